/*
 * list.c - `httpdtrace list`: the running Apache servers that have
 * mod_dtprovider mapped, and what can be traced in each.
 *
 * No BPF here: everything comes from /proc and the module's ELF notes. A
 * server is a process that maps a mod_dtprovider.so while its parent does
 * not map the same file (Apache's parent); its children are the processes
 * it forked that map it. For each server:
 *   version  the "Apache/x.y.z (platform)" string of the binary the process
 *            runs, read through /proc/PID/exe: the running server's version
 *            even if a package upgrade has replaced the file on disk
 *   mpm      which mod_mpm_*.so it maps ("built-in" if none)
 *   probes   the httpd probes in the module's .note.stapsdt
 *   enabled  the probes whose is-enabled semaphore is non-zero in the
 *            parent's memory right now (/proc/PID/mem): someone is tracing
 * A module replaced on disk after Apache loaded it (make install or a
 * package upgrade while Apache ran) is still the one the server runs: it is
 * listed as replaced, read through /proc/PID/map_files, and the tracing
 * commands trace that copy until a graceful restart loads the new file.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/fmt.h"
#include "httpdtrace.h"
#include "lib/probes.h"
#include "lib/proc.h"
#include "lib/trace.h"


/* A process that maps the module. */
struct mapper {
	pid_t pid, ppid;
	char module[PATH_MAX];  /* the name it was loaded as */
	char mapfile[PATH_MAX]; /* a path that opens the copy it maps */
	bool deleted;           /* replaced on disk since it was loaded */
	bool child;             /* its parent maps the same module */
};

static struct {
	struct mapper *v;
	int n, cap;
} mappers;


const char list_doc[] =
	"List the running Apache servers that have mod_dtprovider mapped: parent pid,\n"
	"children, binary, Apache version, MPM, module, probes, and the probes someone\n"
	"is tracing now.\n"
	"\n"
	"USAGE: httpdtrace list [-j] [-m PATH] [-p PID]\n"
	"\n"
	"EXAMPLES:\n"
	"    httpdtrace list              # every server with the module\n"
	"    httpdtrace list -j           # one JSON object per server\n"
	"    httpdtrace list -p 1234      # the server whose parent (or child) is 1234\n"
	"    httpdtrace list -m /usr/lib/apache2/modules/mod_dtprovider.so\n"
	"\n"
	"Exits 1, saying what to do, when no server is found. Without root it sees\n"
	"only the processes the user may inspect.";

static int mapper_add(pid_t pid, void *ctx)
{
	struct mapper *m;

	(void)ctx;
	if (mappers.n == mappers.cap) {
		int cap = mappers.cap ? mappers.cap * 2 : 64;
		struct mapper *v = realloc(mappers.v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		mappers.v = v;
		mappers.cap = cap;
	}
	m = &mappers.v[mappers.n];
	if (proc_find_module(pid, TRACE_MODULE_NAME, m->module, sizeof(m->module), &m->deleted,
			     m->mapfile, sizeof(m->mapfile)) != 1)
		return 0;
	m->pid = pid;
	m->ppid = proc_ppid(pid);
	m->child = false;
	mappers.n++;
	return 0;
}

static int mapper_cmp(const void *a, const void *b)
{
	return ((const struct mapper *)a)->pid - ((const struct mapper *)b)->pid;
}

/* Mark children: a mapper whose parent maps the same module. */
static void mappers_link(void)
{
	qsort(mappers.v, mappers.n, sizeof(*mappers.v), mapper_cmp);
	for (int i = 0; i < mappers.n; i++)
		for (int j = 0; j < mappers.n; j++)
			if (mappers.v[j].pid == mappers.v[i].ppid &&
			    !strcmp(mappers.v[j].module, mappers.v[i].module) &&
			    mappers.v[j].deleted == mappers.v[i].deleted)
				mappers.v[i].child = true;
}

/* Probe names of the module (each once) and whether each is enabled now in
 * pid (its semaphore read from memory). Returns how many, or -1. */
static int probes_of(pid_t pid, const char *module, const char *names[], bool enabled[], int max)
{
	static struct probe_note notes[PROBES_MAX];
	int n = probes_read(module, notes, PROBES_MAX), count = 0;

	for (int i = 0; i < n && count < max; i++) {
		unsigned short sem = 0;
		unsigned long long addr;
		int j;

		if (strcmp(notes[i].provider, TRACE_PROVIDER))
			continue;
		for (j = 0; j < count && strcmp(names[j], notes[i].name); j++)
			;
		if (j == count) {
			names[count] = notes[i].name;
			enabled[count++] = false;
		}
		addr = notes[i].sem_off ? proc_file_addr(pid, module, notes[i].sem_off) : 0;
		if (addr && proc_read_mem(pid, addr, &sem, sizeof(sem)) == 0 && sem)
			enabled[j] = true;
	}
	return n < 0 ? -1 : count;
}

static void print_server(const struct mapper *s)
{
	char exe[PATH_MAX] = "?", version[PROC_VERSION_LEN], mpm[64];
	const char *names[PROBES_MAX];
	bool enabled[PROBES_MAX];
	int nprobes, nchildren = 0, nenabled = 0;

	if (proc_exe(s->pid, exe, sizeof(exe)))
		snprintf(exe, sizeof(exe), "?");
	proc_apache_version(s->pid, version, sizeof(version));
	proc_apache_mpm(s->pid, mpm, sizeof(mpm));
	nprobes = probes_of(s->pid, s->mapfile, names, enabled, PROBES_MAX);
	for (int i = 0; i < mappers.n; i++)
		nchildren += mappers.v[i].child && mappers.v[i].ppid == s->pid;
	for (int i = 0; i < nprobes; i++)
		nenabled += enabled[i];

	if (trace_env.json) {
		printf("{\"pid\":%d,\"children\":[", (int)s->pid);
		for (int i = 0, k = 0; i < mappers.n; i++)
			if (mappers.v[i].child && mappers.v[i].ppid == s->pid)
				printf("%s%d", k++ ? "," : "", (int)mappers.v[i].pid);
		printf("],\"binary\":");
		fmt_json_str(stdout, exe);
		printf(",\"version\":");
		fmt_json_str(stdout, version);
		printf(",\"mpm\":");
		fmt_json_str(stdout, mpm);
		printf(",\"module\":");
		fmt_json_str(stdout, s->module);
		printf(",\"module_replaced\":%s", s->deleted ? "true" : "false");
		printf(",\"probes\":[");
		for (int i = 0; i < nprobes; i++)
			printf("%s\"%s\"", i ? "," : "", names[i]);
		printf("],\"enabled\":[");
		for (int i = 0, k = 0; i < nprobes; i++)
			if (enabled[i])
				printf("%s\"%s\"", k++ ? "," : "", names[i]);
		printf("]}\n");
		return;
	}
	printf("%d: %s, mpm %s, %d child%s\n", (int)s->pid, version[0] ? version : "Apache ?",
	       mpm, nchildren, nchildren == 1 ? "" : "ren");
	printf("  binary:   %s\n", exe);
	printf("  module:   %s\n", s->module);
	if (s->deleted)
		printf("            (replaced on disk since Apache loaded it: httpdtrace traces the "
		       "copy it runs;\n             `apachectl graceful` loads the new file)\n");
	printf("  probes:   %d", nprobes < 0 ? 0 : nprobes);
	for (int i = 0; i < nprobes; i++)
		printf(" %s", names[i]);
	printf("\n  enabled:  %s", nenabled ? "" : "none");
	for (int i = 0, k = 0; i < nprobes; i++)
		if (enabled[i])
			printf("%s%s", k++ ? " " : "", names[i]);
	printf("\n  children:");
	for (int i = 0; i < mappers.n; i++)
		if (mappers.v[i].child && mappers.v[i].ppid == s->pid)
			printf(" %d", (int)mappers.v[i].pid);
	printf("\n");
}

/* Whether server s is selected by -m and -p (its pid or a child's). */
static bool selected(const struct mapper *s)
{
	char real[PATH_MAX];

	if (trace_env.module &&
	    (!realpath(trace_env.module, real) || strcmp(real, s->module)))
		return false;
	if (!trace_env.pid || trace_env.pid == s->pid)
		return true;
	for (int i = 0; i < mappers.n; i++)
		if (mappers.v[i].child && mappers.v[i].ppid == s->pid &&
		    mappers.v[i].pid == trace_env.pid)
			return true;
	return false;
}

int list_main(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &trace_json_argp, 0, "Output:", 0 },
		{ &trace_argp, 0, "Common options:", 0 },
		{ 0 },
	};
	static const struct argp argp = { NULL, NULL, NULL, list_doc, children, NULL, NULL };
	int err, shown = 0;

	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	err = proc_each(mapper_add, NULL);
	if (err) {
		trace_err("out of memory");
		goto cleanup;
	}
	mappers_link();
	for (int i = 0; i < mappers.n; i++) {
		if (mappers.v[i].child || !selected(&mappers.v[i]))
			continue;
		if (shown++ && !trace_env.json)
			printf("\n");
		print_server(&mappers.v[i]);
	}
	if (fflush(stdout) == EOF && errno != EPIPE) {
		trace_err("writing the output: %s", strerror(errno));
		err = -EIO;
	} else if (!shown) {
		trace_err("no running Apache has %s mapped%s: load it (a2enmod dtprovider, then "
			  "restart Apache)%s", trace_env.module ? trace_env.module : TRACE_MODULE_NAME,
			  trace_env.pid ? " in that process" : "",
			  geteuid() ? ", or run as root to see every process" : "");
		err = -ENOENT;
	}

cleanup:
	free(mappers.v);
	return err ? 1 : 0;
}
