/*
 * trace.c - the life cycle of a tracing subcommand (trace.h maps it): the
 * checks that turn the usual failures into one line saying what to do,
 * loading a skeleton and attaching its programs to the module's probes,
 * and closing. The rest of the plumbing, each in its own file of lib/:
 * messages (msg.c), clocks (clock.c), the shared options (trace_argp.c),
 * finding mod_dtprovider.so (module.c), streams and intervals (stream.c).
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
#include "probes.h"
#include "stream.h"
#include "module.h"

#define PROBE_NAME_MAX 64

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
	int err;

	memset(t, 0, sizeof(*t));
	t->drops_fd = -1;
	libbpf_set_print(libbpf_print);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed stdout shows as EPIPE: see stream_poll */

	if ((err = check_privileges()) || (err = check_bpf()) || (err = check_btf()))
		return err;
	return trace_module_find(t);
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
		if (!bpf_program__autoload(prog))
			continue; /* not loaded: not wanted this time */
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

int trace_begin(struct trace *t, const struct argp *argp, int argc, char **argv)
{
	memset(t, 0, sizeof(*t));
	t->drops_fd = -1;
	if (argp_parse(argp, argc, argv, 0, NULL, NULL))
		return TRACE_USAGE;
	return trace_init(t);
}

int trace_opened(const void *skel)
{
	int err;

	if (skel)
		return 0;
	err = errno ? -errno : -ENOMEM;
	trace_err("cannot open the BPF program: %s", strerror(-err));
	return err;
}

int trace_start(struct trace *t, struct bpf_object_skeleton *skel)
{
	int err = trace_load(t, skel);

	return err ? err : trace_attach(t);
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
	if (err == TRACE_USAGE)
		return 2;
	return err && !trace_epipe ? 1 : 0;
}

