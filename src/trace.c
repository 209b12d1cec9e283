/*
 * trace.c - httpdtrace's plumbing (see trace.h for the life cycle a
 * subcommand follows): shared options, the checks that turn the usual
 * failures into one line saying what to do, finding mod_dtprovider.so,
 * attaching a skeleton's programs to its probes, and the ring-buffer
 * consumer that never asks the kernel for a wake-up per event.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "fmt.h"
#include "options.h"
#include "probes.h"
#include "proc.h"
#include "trace.h"

#ifndef HTTPDTRACE_LIBEXECDIR
#define HTTPDTRACE_LIBEXECDIR "/usr/lib/apache2/modules"
#endif
#define INSTALLED_MODULE HTTPDTRACE_LIBEXECDIR "/" TRACE_MODULE_NAME
#define DROPS_EVERY_NS 1000000000ULL
#define MAX_FOUND 4
#define PROBE_NAME_MAX 64

static void clock_offset_take(void);

struct trace_env trace_env;
struct request_filter trace_filters;
volatile sig_atomic_t trace_exiting;
volatile sig_atomic_t trace_epipe;

/* ---------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------- */
static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
	fflush(stdout); /* keep the order of what a terminal shows */
	fprintf(stderr, "httpdtrace: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void trace_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

void trace_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------------------
 * Shared options: argp children every subcommand lists
 * ------------------------------------------------------------------------- */
static const struct argp_option common_options[] = {
	{ "module", 'm', "PATH", 0,
	  "The mod_dtprovider.so to trace (default: the one running servers map, "
	  "else " INSTALLED_MODULE ")", 0 },
	{ "pid", 'p', "PID", 0,
	  "Only this process: Apache's parent pid selects all its children, "
	  "a child's pid that child only", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's own messages", 0 },
	/* "-1" as an argument reaches argp as option '1': these hidden keys
	 * let it say what is wrong instead of "invalid option -- '1'". */
	{ NULL, '0', NULL, OPTION_HIDDEN, NULL, 0 }, { NULL, '1', NULL, OPTION_HIDDEN, NULL, 0 },
	{ NULL, '2', NULL, OPTION_HIDDEN, NULL, 0 }, { NULL, '3', NULL, OPTION_HIDDEN, NULL, 0 },
	{ NULL, '4', NULL, OPTION_HIDDEN, NULL, 0 }, { NULL, '5', NULL, OPTION_HIDDEN, NULL, 0 },
	{ NULL, '6', NULL, OPTION_HIDDEN, NULL, 0 }, { NULL, '7', NULL, OPTION_HIDDEN, NULL, 0 },
	{ NULL, '8', NULL, OPTION_HIDDEN, NULL, 0 }, { NULL, '9', NULL, OPTION_HIDDEN, NULL, 0 },
	{ 0 },
};

static long parse_positive(const char *arg, struct argp_state *state, const char *what, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || *end || end == arg || v <= 0 || v > max)
		argp_error(state, "invalid %s '%s': give a whole number from 1 to %ld", what, arg,
			   max);
	return v;
}

static error_t common_parse(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'm':
		trace_env.module = arg;
		break;
	case 'p':
		trace_env.pid = (pid_t)parse_positive(arg, state, "pid", 0x7fffffff);
		break;
	case 'v':
		trace_env.verbose = true;
		break;
	case '0' ... '9':
		argp_error(state, "a negative number is not an argument: an interval and a count "
			   "are positive (1, 0.5, 500ms), options are letters");
		break;
	case ARGP_KEY_ARG: /* a subcommand that takes arguments parses them first */
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp trace_argp = { common_options, common_parse, NULL, NULL, NULL, NULL, NULL };

static const struct argp_option stream_options[] = {
	{ "buffer-pages", 'b', "PAGES", 0,
	  "Ring buffer size in pages, a power of 2 (default 1024: 4 MiB; at most 2 GiB)", 0 },
	{ 0 },
};

static error_t stream_parse(int key, char *arg, struct argp_state *state)
{
	long v;

	if (key != 'b')
		return ARGP_ERR_UNKNOWN;
	/* The kernel sizes a ring buffer in bytes, in 32 bits, a power of 2:
	 * 2 GiB at most. */
	v = parse_positive(arg, state, "page count for -b", (1L << 31) / getpagesize());
	if (v & (v - 1))
		argp_error(state, "-b wants a power of 2, not %s", arg);
	trace_env.buffer_pages = (int)v;
	return 0;
}

const struct argp trace_stream_argp = { stream_options, stream_parse, NULL, NULL, NULL, NULL,
					NULL };

static const struct argp_option output_options[] = {
	{ "json", 'j', NULL, 0, "JSON output, one object per line", 0 },
	{ "timestamp", 'T', NULL, 0, "Wall-clock times, HH:MM:SS.mmm", 0 },
	{ 0 },
};

static error_t output_parse(int key, char *arg, struct argp_state *state)
{
	(void)arg;
	(void)state;
	switch (key) {
	case 'j':
		trace_env.json = true;
		break;
	case 'T':
		trace_env.clock = true;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp trace_output_argp = { output_options, output_parse, NULL, NULL, NULL, NULL,
					NULL };
/* The same parser, offering -j alone (output_options[0]). */
static const struct argp_option json_options[] = { output_options[0], { 0 } };
const struct argp trace_json_argp = { json_options, output_parse, NULL, NULL, NULL, NULL, NULL };

static const struct argp_option duration_options[] = {
	{ "duration", 'd', "DURATION", 0, "Stop after DURATION (10s, 1m)", 0 },
	{ 0 },
};

static error_t duration_parse(int key, char *arg, struct argp_state *state)
{
	if (key != 'd')
		return ARGP_ERR_UNKNOWN;
	if (opt_duration_parse(arg, &trace_env.duration_us) || !trace_env.duration_us)
		argp_error(state, "invalid duration '%s': give a positive number and a unit, as "
			   "in 10s, 1m", arg);
	return 0;
}

const struct argp trace_duration_argp = { duration_options, duration_parse, NULL, NULL, NULL,
					  NULL, NULL };

static const struct argp_option filter_options[] = {
	{ "status", 's', "STATUS", 0, "Only this status: 404, 5xx or 400-499", 0 },
	{ "latency", 'l', "LATENCY", 0, "Only requests at least this slow: 500us, 100ms, 2s", 0 },
	{ "method", 'M', "METHOD", 0, "Only this method (GET, POST...)", 0 },
	{ "vhost", 'H', "VHOST", 0, "Only this virtual host (its ServerName)", 0 },
	{ 0 },
};

static error_t filter_parse(int key, char *arg, struct argp_state *state)
{
	struct request_filter *f = &trace_filters;
	struct filter_status status;

	switch (key) {
	case 's':
		if (filter_status_parse(arg, &status))
			argp_error(state, "invalid status '%s': give 404, 5xx or 400-499", arg);
		f->status_lo = status.lo;
		f->status_hi = status.hi;
		break;
	case 'l':
		if (opt_duration_parse(arg, &f->min_latency_us))
			argp_error(state, "invalid latency '%s': give a positive number and a "
				   "unit, as in 500us, 100ms, 2s",
				   arg);
		break;
	case 'M':
		if (filter_method_parse(arg, f->method, sizeof(f->method)))
			argp_error(state, "invalid method '%s'", arg);
		break;
	case 'H':
		if (strlen(arg) >= sizeof(f->vhost))
			argp_error(state, "vhost longer than %zu bytes", sizeof(f->vhost) - 1);
		strcpy(f->vhost, arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp trace_filter_argp = { filter_options, filter_parse, NULL, NULL, NULL, NULL,
					NULL };

/* ---------------------------------------------------------------------------
 * Checks: privileges, BPF, BTF
 * ------------------------------------------------------------------------- */
#define CAP_SYS_ADMIN_BIT 21
#define CAP_PERFMON_BIT 38
#define CAP_BPF_BIT 39

/* Effective capabilities from /proc/self/status (0 if unreadable). */
static unsigned long long cap_effective(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long caps = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	fclose(f);
	return caps;
}

static int check_privileges(void)
{
	unsigned long long caps = cap_effective();
	unsigned long long need = 1ULL << CAP_BPF_BIT | 1ULL << CAP_PERFMON_BIT;

	if ((caps & need) == need || caps & 1ULL << CAP_SYS_ADMIN_BIT)
		return 0;
	trace_err("tracing needs root (or CAP_BPF and CAP_PERFMON): run it with sudo");
	return -EPERM;
}

static int check_bpf(void)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4, 1, NULL);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (fd == -ENOSYS)
		trace_err("this kernel has no BPF syscall (needs CONFIG_BPF_SYSCALL=y)");
	else
		trace_err("the kernel refused BPF: %s (kernel lockdown, or a container or seccomp "
			  "policy?)", strerror(-fd));
	return fd;
}

static int check_btf(void)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0)
		return 0;
	trace_err("this kernel has no BTF (/sys/kernel/btf/vmlinux): it needs "
		  "CONFIG_DEBUG_INFO_BTF=y");
	return -ENOENT;
}

/* ---------------------------------------------------------------------------
 * Finding the module
 * ------------------------------------------------------------------------- */
/* The distinct modules running processes map. A module replaced on disk
 * since Apache loaded it (a reinstall while it ran) is still mapped, as
 * "PATH (deleted)": it counts as its own entry, reachable through the
 * /proc/PID/map_files link of the first process seen with it (the kernel
 * attaches uprobes by inode, so that path reaches every process mapping the
 * old copy). */
struct found {
	struct found_module {
		char path[PATH_MAX];    /* the name it was loaded as */
		char mapfile[PATH_MAX]; /* a path that opens it: path, or map_files */
		bool deleted;
		pid_t pid;
	} v[MAX_FOUND];
	int n;
	const char *only; /* only modules loaded under this name, or NULL */
};

static int found_add(pid_t pid, void *ctx)
{
	struct found *f = ctx;
	struct found_module m;

	if (proc_find_module(pid, TRACE_MODULE_NAME, m.path, sizeof(m.path), &m.deleted,
			     m.mapfile, sizeof(m.mapfile)) != 1)
		return 0;
	if (f->only && strcmp(f->only, m.path))
		return 0;
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].path, m.path) && f->v[i].deleted == m.deleted)
			return 0;
	m.pid = pid;
	if (f->n < MAX_FOUND)
		f->v[f->n++] = m;
	return 0;
}

struct mapped {
	const char *path;
	int n;
};

static int mapped_count(pid_t pid, void *ctx)
{
	struct mapped *m = ctx;

	if (proc_maps_file(pid, m->path))
		m->n++;
	return 0;
}

/* Say what a module replaced on disk means, and trace it if `use`. */
static void use_replaced(struct trace *t, const struct found_module *m, bool use)
{
	if (use) {
		snprintf(t->module, sizeof(t->module), "%s", m->mapfile);
		trace_warn("Apache (pid %d) runs a copy of %s that was replaced on disk after it "
			   "was loaded (a reinstall): tracing that copy through %s; `apachectl "
			   "graceful` loads the new file (then start httpdtrace again)",
			   (int)m->pid, m->path, m->mapfile);
	} else {
		trace_warn("Apache (pid %d) runs a copy of %s that was replaced on disk: it is "
			   "not traced; `apachectl graceful` loads the new file, or trace the old "
			   "copy with -p %d", (int)m->pid, m->path, (int)m->pid);
	}
}

/* -p without -m: the module that process (Apache's parent or a child) maps. */
static int module_of_pid(struct trace *t, pid_t pid)
{
	struct found_module m;

	if (!proc_exists(pid)) {
		trace_err("no process with pid %d", (int)pid);
		return -ESRCH;
	}
	if (proc_find_module(pid, TRACE_MODULE_NAME, m.path, sizeof(m.path), &m.deleted,
			     m.mapfile, sizeof(m.mapfile)) == 1) {
		m.pid = pid;
		if (m.deleted)
			use_replaced(t, &m, true);
		else
			snprintf(t->module, sizeof(t->module), "%s", m.path);
		return 0;
	}
	trace_err("process %d has no %s mapped: is it an Apache with LoadModule "
		  "dtprovider_module? (a2enmod dtprovider)", (int)pid, TRACE_MODULE_NAME);
	return -ENOENT;
}

/* Neither -m nor -p: the one module running servers map, else the one copy
 * of it a server runs after a reinstall, else the installed one. Several
 * different ones are ambiguous: the user picks with -m or -p. */
static int module_of_system(struct trace *t)
{
	struct found f = { .n = 0 };
	int live = 0, dead = 0;
	const struct found_module *l = NULL, *d = NULL;

	proc_each(found_add, &f);
	for (int i = 0; i < f.n; i++) {
		if (f.v[i].deleted)
			dead++, d = d ? d : &f.v[i];
		else
			live++, l = l ? l : &f.v[i];
	}
	if (live > 1 || (!live && dead > 1)) {
		trace_err("%d different %s are mapped (%s, %s%s); pick one with -m PATH or -p PID",
			  f.n, TRACE_MODULE_NAME, f.v[0].path, f.v[1].path, f.n > 2 ? ", ..." : "");
		return -EEXIST;
	}
	if (live == 1) {
		snprintf(t->module, sizeof(t->module), "%s", l->path);
		for (int i = 0; i < f.n; i++)
			if (f.v[i].deleted)
				use_replaced(t, &f.v[i], false);
		return 0;
	}
	if (dead == 1) {
		use_replaced(t, d, true);
		return 0;
	}
	if (access(INSTALLED_MODULE, R_OK) == 0) {
		snprintf(t->module, sizeof(t->module), "%s", INSTALLED_MODULE);
		return 0;
	}
	trace_err("no process has %s mapped and %s does not exist: is the module "
		  "loaded? (a2enmod dtprovider) or give its path with -m PATH",
		  TRACE_MODULE_NAME, INSTALLED_MODULE);
	return -ENOENT;
}

/* -m PATH that no process maps while a server runs a replaced copy loaded
 * under that name: that copy is what the user means. */
static void module_or_replaced(struct trace *t)
{
	struct mapped m = { .path = t->module, .n = 0 };
	struct found f = { .n = 0, .only = t->module };

	proc_each(mapped_count, &m);
	if (m.n)
		return;
	proc_each(found_add, &f);
	for (int i = 0; i < f.n; i++)
		if (f.v[i].deleted) {
			use_replaced(t, &f.v[i], true);
			return;
		}
}

static int module_resolve(struct trace *t)
{
	struct probe_note notes[PROBES_MAX];
	int n;

	if (trace_env.module) {
		if (!realpath(trace_env.module, t->module)) {
			trace_err("%s: %s (give the path of mod_dtprovider.so with -m)",
				  trace_env.module, strerror(errno));
			return -errno;
		}
		if (trace_env.pid && !proc_exists(trace_env.pid)) {
			trace_err("no process with pid %d", (int)trace_env.pid);
			return -ESRCH;
		}
		module_or_replaced(t);
	} else {
		n = trace_env.pid ? module_of_pid(t, trace_env.pid) : module_of_system(t);
		if (n)
			return n;
	}
	n = probes_read(t->module, notes, PROBES_MAX);
	if (n < 0) {
		trace_err("%s: %s", t->module,
			  errno == ENOEXEC ? "not an ELF file (is it mod_dtprovider.so?)" :
			  strerror(errno));
		return -ENOEXEC;
	}
	t->nprobes = probes_count(notes, n, TRACE_PROVIDER);
	if (!t->nprobes) {
		trace_err("%s has no %s probes: not mod_dtprovider.so, or built without USDT "
			  "(check with readelf -n)", t->module, TRACE_PROVIDER);
		return -ENOENT;
	}
	if (trace_env.pid && !proc_maps_file(trace_env.pid, t->module)) {
		trace_err("process %d does not map %s: is it an Apache with this module?",
			  (int)trace_env.pid, t->module);
		return -ENOENT;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Life cycle
 * ------------------------------------------------------------------------- */
static void on_signal(int sig)
{
	(void)sig;
	trace_exiting = 1;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	if (!trace_env.verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int trace_init(struct trace *t)
{
	/* SA_RESTART: a write to a full pipe is not cut short by Ctrl-C (its
	 * output would be lost); sleeps and polls still return at once, as
	 * they are never restarted. */
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	struct mapped m;
	int err;

	memset(t, 0, sizeof(*t));
	t->drops_fd = -1;
	libbpf_set_print(libbpf_print);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed stdout shows as EPIPE: see stream_poll */

	if ((err = check_privileges()) || (err = check_bpf()) || (err = check_btf()) ||
	    (err = module_resolve(t)))
		return err;
	m.path = t->module;
	m.n = 0;
	proc_each(mapped_count, &m);
	t->nprocs = m.n;
	if (!t->nprocs)
		trace_warn("no running process has %s mapped; tracing it for processes that "
			   "load it later", t->module);
	return 0;
}

/* Point `var` of the object's .rodata at val before load. The knob is found
 * through BTF so the plumbing can set it in any skeleton. */
static int rodata_set(struct bpf_object *obj, const char *var, const void *val, size_t size)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *map;
	const struct btf_type *sec;
	const struct btf_var_secinfo *vs;
	int id;

	if (!btf || (id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC)) < 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++) {
		const struct btf_type *v = btf__type_by_id(btf, vs[i].type);
		size_t msize;
		char *data;

		if (strcmp(btf__name_by_offset(btf, v->name_off), var) || vs[i].size != size)
			continue;
		bpf_object__for_each_map(map, obj) {
			const char *name = bpf_map__name(map);
			size_t len = strlen(name);

			if (!bpf_map__is_internal(map) || len < 7 || strcmp(name + len - 7, ".rodata"))
				continue;
			/* before load this is the skeleton's writable rodata */
			data = (char *)bpf_map__initial_value(map, &msize);
			if (!data || vs[i].offset + size > msize)
				return -EINVAL;
			memcpy(data + vs[i].offset, val, size);
			return 0;
		}
	}
	return -ENOENT;
}

static int trace_prepare(struct trace *t, struct bpf_object *obj)
{
	struct bpf_map *events = bpf_object__find_map_by_name(obj, "events");
	int tgid = (int)trace_env.pid, err;

	t->obj = obj;
	err = rodata_set(obj, "trace_tgid", &tgid, sizeof(tgid));
	if (err) {
		trace_err("the BPF program has no trace_tgid (include trace.bpf.h)");
		return err;
	}
	if (events && trace_env.buffer_pages) {
		err = bpf_map__set_max_entries(events, (__u32)trace_env.buffer_pages * getpagesize());
		if (err) {
			trace_err("cannot size the ring buffer to %d pages: %s",
				  trace_env.buffer_pages, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* The probe a program attaches to: its name, up to a "___" suffix that lets
 * two programs share a probe (request__done___hist -> request__done). */
static void probe_of_program(const char *prog, char *name, size_t len)
{
	const char *end = strstr(prog, "___");
	size_t n = end ? (size_t)(end - prog) : strlen(prog);

	snprintf(name, len, "%.*s", (int)n, prog);
}

int trace_load(struct trace *t, struct bpf_object_skeleton *skel)
{
	struct bpf_map *drops;
	int err = trace_prepare(t, *skel->obj);

	if (err)
		return err;
	err = bpf_object__load_skeleton(skel);
	drops = bpf_object__find_map_by_name(t->obj, "trace_drops");
	if (!err && drops)
		t->drops_fd = bpf_map__fd(drops);
	if (err && trace_env.buffer_pages && (err == -ENOMEM || err == -E2BIG))
		trace_err("cannot make a ring buffer of %d pages (%lld MiB): %s; give a smaller -b",
			  trace_env.buffer_pages,
			  (long long)trace_env.buffer_pages * getpagesize() >> 20, strerror(-err));
	else if (err)
		trace_err("cannot load the BPF program: %s (-v shows the verifier's log)",
			  strerror(-err));
	return err;
}

int trace_attach(struct trace *t)
{
	struct probe_note notes[PROBES_MAX];
	struct bpf_program *prog;
	int n = probes_read(t->module, notes, PROBES_MAX);

	bpf_object__for_each_program(prog, t->obj) {
		char name[PROBE_NAME_MAX];
		struct bpf_link *link;

		if (strcmp(bpf_program__section_name(prog), "usdt"))
			continue; /* tracepoints, uprobes: trace_attach_other() */
		probe_of_program(bpf_program__name(prog), name, sizeof(name));

		if (!probes_has(notes, n, TRACE_PROVIDER, name)) {
			trace_err("%s has no %s:%s probe: is the module older than httpdtrace?",
				  t->module, TRACE_PROVIDER, name);
			return -ENOENT;
		}
		link = bpf_program__attach_usdt(prog, -1, t->module, TRACE_PROVIDER, name, NULL);
		if (!link) {
			int err = -errno;

			trace_err("cannot attach to %s:%s in %s: %s (-v shows why)", TRACE_PROVIDER,
				  name, t->module, strerror(-err));
			return err;
		}
		if (trace_link_add(t, link))
			return -ENOMEM;
	}
	clock_offset_take();
	t->start_ns = trace_now_ns();
	fprintf(stderr, "httpdtrace: tracing %d probe%s in %s; %s\n", t->nlinks,
		t->nlinks == 1 ? "" : "s", t->module, t->end_hint ? t->end_hint : "Ctrl-C to end");
	return 0;
}

int trace_attach_other(struct trace *t, struct bpf_program *prog)
{
	struct bpf_link *link = bpf_program__attach(prog);

	if (!link) {
		int err = -errno;

		trace_err("cannot attach %s (%s): %s (-v shows why)", bpf_program__name(prog),
			  bpf_program__section_name(prog), strerror(-err));
		return err;
	}
	return trace_link_add(t, link);
}

int trace_link_add(struct trace *t, struct bpf_link *link)
{
	if (t->nlinks == t->links_cap) {
		int cap = t->links_cap ? 2 * t->links_cap : 16;
		struct bpf_link **links = realloc(t->links, (size_t)cap * sizeof(*links));

		if (!links) {
			bpf_link__destroy(link);
			trace_err("out of memory");
			return -ENOMEM;
		}
		t->links = links;
		t->links_cap = cap;
	}
	t->links[t->nlinks++] = link;
	return 0;
}

void trace_link_destroy(struct trace *t, struct bpf_link *link)
{
	for (int i = 0; i < t->nlinks; i++) {
		if (t->links[i] != link)
			continue;
		bpf_link__destroy(link);
		t->links[i] = t->links[--t->nlinks];
		return;
	}
}

/* ---------------------------------------------------------------------------
 * Streaming events
 * ------------------------------------------------------------------------- */
int trace_stream_open(struct trace *t, ring_buffer_sample_fn fn, void *ctx)
{
	struct bpf_map *events = bpf_object__find_map_by_name(t->obj, "events");

	if (!events || t->drops_fd < 0) {
		trace_err("the BPF program has no events/trace_drops maps (define TRACE_EVENTS)");
		return -ENOENT;
	}
	t->rb = ring_buffer__new(bpf_map__fd(events), fn, ctx, NULL);
	if (!t->rb) {
		int err = -errno;

		trace_err("cannot open the ring buffer: %s", strerror(-err));
		return err;
	}
	return 0;
}

unsigned long long trace_drops(struct trace *t)
{
	int ncpus = libbpf_num_possible_cpus();
	unsigned long long total = 0;
	__u32 zero = 0;

	if (t->drops_fd < 0 || ncpus <= 0)
		return t->drops;
	{
		unsigned long long vals[ncpus];

		if (bpf_map_lookup_elem(t->drops_fd, &zero, vals))
			return t->drops;
		for (int i = 0; i < ncpus; i++)
			total += vals[i];
	}
	t->drops = total;
	return total;
}

/* Tell about drops that are new since the last report; at most once a second
 * unless `now`. */
static void drops_report(struct trace *t, bool now)
{
	static unsigned long long last_ns;
	unsigned long long total = trace_drops(t), ns = trace_now_ns();

	if (total <= t->drops_shown || (!now && ns - last_ns < DROPS_EVERY_NS))
		return;
	last_ns = ns;
	trace_warn("%llu events dropped so far: the ring buffer was full (raise -b)", total);
	t->drops_shown = total;
	if (t->on_drops)
		t->on_drops(t, total);
}

void trace_drops_json(struct trace *t, unsigned long long total)
{
	(void)t;
	printf("{\"type\":\"drops\",\"dropped\":%llu}\n", total);
}

/* Flush stdout; a reader that went away (| head) ends the trace quietly. */
static int flush_out(void)
{
	int rc = fflush(stdout), e = errno;

	if (rc != EOF && !ferror(stdout))
		return 0;
	if (rc == EOF && e != EPIPE) {
		trace_err("writing the output: %s", strerror(e));
		return -e;
	}
	trace_exiting = 1;
	trace_epipe = 1;
	return 0;
}

static int stream_poll(struct trace *t)
{
	int n = ring_buffer__consume(t->rb);

	if (n < 0 && n != -EINTR) {
		trace_err("reading events: %s", strerror(-n));
		return n;
	}
	if (!trace_epipe)
		drops_report(t, false);
	n = flush_out();
	if (n)
		return n;
	if (!trace_exiting)
		trace_sleep_ms(TRACE_POLL_MS);
	return 0;
}

/* A last drain (the count is then final), a last drop report, the stderr
 * summary. Returns 0, or a negative errno if stdout failed. */
static int stream_finish(struct trace *t, const struct trace_stream *s)
{
	int err;

	if (trace_epipe || !t->rb)
		return 0;
	ring_buffer__consume(t->rb);
	drops_report(t, true);
	err = flush_out();
	if (err || trace_epipe)
		return err;
	fprintf(stderr, "httpdtrace: %llu %s, %llu dropped\n", s->count, s->what, trace_drops(t));
	return 0;
}

#define TICK_NS 1000000000ULL

int trace_stream_run(struct trace *t, struct trace_stream *s)
{
	unsigned long long d = trace_env.duration_us, now;
	unsigned long long deadline = d ? t->start_ns + d * 1000ULL : 0;
	unsigned long long next_tick = t->start_ns + TICK_NS;
	int err = trace_stream_open(t, s->fn, s->ctx);

	if (err)
		return err;
	if (trace_env.json && s->json_key)
		t->on_drops = trace_drops_json;
	if (s->begin)
		s->begin(s->ctx);
	while (!trace_exiting) {
		err = stream_poll(t);
		if (err)
			return err;
		now = trace_now_ns();
		if (deadline && now >= deadline)
			break;
		if (s->tick && now >= next_tick) {
			s->tick(s->ctx);
			next_tick = now + TICK_NS;
		}
	}
	err = stream_finish(t, s);
	if (err || trace_epipe)
		return err;
	if (s->end)
		s->end(s->ctx);
	if (trace_env.json && s->json_key)
		printf("{\"type\":\"summary\",\"%s\":%llu,\"dropped\":%llu}\n", s->json_key,
		       s->count, trace_drops(t));
	return flush_out();
}

/* ---------------------------------------------------------------------------
 * [interval] [count]
 * ------------------------------------------------------------------------- */
void trace_interval_arg(struct trace_interval *iv, struct argp_state *state, const char *arg)
{
	switch (iv->nargs++) {
	case 0:
		if (opt_interval_parse(arg, &iv->ms))
			argp_error(state, "invalid interval '%s': give seconds (1, 0.5) or a "
				   "duration (500ms)", arg);
		break;
	case 1:
		if (opt_count_parse(arg, &iv->count))
			argp_error(state, "invalid count '%s': give a number of reports (1 or more)",
				   arg);
		break;
	default:
		argp_error(state, "unexpected argument '%s' (after [interval] [count])", arg);
	}
}

/* Sleeps are cut in slices so a signal that lands just before nanosleep()
 * delays the exit by one slice at most. */
#define INTERVAL_SLICE_MS 100

int trace_interval_wait(struct trace_interval *iv)
{
	unsigned int slice = iv->tick ? TRACE_POLL_MS : INTERVAL_SLICE_MS;
	unsigned long long now;
	int err = flush_out();

	if (err)
		return err;
	if (trace_exiting || (iv->count && iv->reports >= iv->count))
		return 0;
	now = trace_now_ns();
	if (!iv->next_ns)
		iv->next_ns = now;
	iv->next_ns += iv->ms * 1000000ULL;
	while (!trace_exiting && (!iv->ms || now < iv->next_ns)) {
		unsigned long long left = iv->ms ? (iv->next_ns - now) / 1000000ULL + 1 : slice;

		if (iv->tick)
			iv->tick(iv->tick_ctx);
		trace_sleep_ms(left < slice ? (unsigned int)left : slice);
		now = trace_now_ns();
	}
	iv->reports++;
	return 1;
}

bool trace_interval_last(const struct trace_interval *iv)
{
	return trace_exiting || (iv->count && iv->reports >= iv->count);
}

/* Long enough for a BPF program that read the old generation to finish. */
#define GEN_SETTLE_NS 5000000L

unsigned int trace_gen_flip(unsigned int *gen)
{
	struct timespec settle = { 0, GEN_SETTLE_NS };
	unsigned int old = __atomic_load_n(gen, __ATOMIC_SEQ_CST) & 1;

	__atomic_store_n(gen, old ^ 1, __ATOMIC_SEQ_CST);
	nanosleep(&settle, NULL); /* not trace_sleep_ms: it returns at once on Ctrl-C */
	return old;
}

void trace_sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	if (!trace_exiting)
		nanosleep(&ts, NULL); /* a signal ends it early */
}

unsigned long long trace_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

static long long mono_to_epoch_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC */

static void clock_offset_take(void)
{
	struct timespec rt, mono;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	mono_to_epoch_ns = (rt.tv_sec - mono.tv_sec) * 1000000000LL + (rt.tv_nsec - mono.tv_nsec);
}

char *trace_wallclock(char *buf, size_t len, unsigned long long mono_ns)
{
	return fmt_clock(buf, len, (unsigned long long)((long long)mono_ns + mono_to_epoch_ns) /
					   1000ULL);
}

char *trace_time(const struct trace *t, char *buf, size_t len, unsigned long long mono_ns)
{
	if (trace_env.clock)
		return trace_wallclock(buf, len, mono_ns);
	return fmt_elapsed(buf, len, t->start_ns, mono_ns);
}

void trace_close(struct trace *t)
{
	ring_buffer__free(t->rb);
	t->rb = NULL;
	for (int i = 0; i < t->nlinks; i++)
		bpf_link__destroy(t->links[i]);
	free(t->links);
	t->links = NULL;
	t->nlinks = t->links_cap = 0;
}

int trace_exit_status(int err)
{
	return err && !trace_epipe ? 1 : 0;
}
