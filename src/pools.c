/*
 * pools.c - `httpdtrace pools`: memory Apache allocates per request: calls
 * and bytes of apr_palloc() (pool memory; apr_pcalloc() goes through it)
 * and of libc's malloc(), per request (-r) or per uri at Ctrl-C.
 *
 * The uprobes are attached per process, to the libapr and libc each Apache
 * process maps (never system-wide: malloc is everywhere), at start and, for
 * children forked later, by a rescan once a second. Which request a thread
 * works for comes from request-phase (charge.h states the rule).
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "httpdtrace.h"
#include "pools.h"
#include "pools.skel.h"
#include "proc.h"
#include "charge.h"
#include "trace.h"

#define POOLS_MAX_PROCS 256

static const struct charge_col cols[] = {
	[POOLS_PALLOC_CALLS] = { "PALLOCS", "palloc_calls", 8, 1 },
	[POOLS_PALLOC_BYTES] = { "PBYTES", "palloc_bytes", 10, 1 },
	[POOLS_MALLOC_CALLS] = { "MALLOCS", "malloc_calls", 8, 1 },
	[POOLS_MALLOC_BYTES] = { "MBYTES", "malloc_bytes", 10, 1 },
};

/* The processes whose libapr and libc have our uprobes (links held by t). */
struct pools_procs {
	struct trace *t;
	struct pools_bpf *skel;
	pid_t pids[POOLS_MAX_PROCS];
	struct bpf_link *links[POOLS_MAX_PROCS][2];
	int n;
	int err;
};

const char pools_doc[] =
	"Count apr_palloc() and malloc() calls and bytes per request.\n"
	"\n"
	"USAGE: httpdtrace pools [-r] [-j] [-t N] [-d DURATION] [-m PATH] [-p PID] [-v]\n"
	"\n"
	"EXAMPLES:\n"
	"    httpdtrace pools               # per uri, at Ctrl-C (means per request)\n"
	"    httpdtrace pools -t 10         # the 10 uris allocating most pool memory\n"
	"    httpdtrace pools -r            # one line per request as it ends\n"
	"    httpdtrace pools -r -j         # the same as JSON lines\n"
	"\n"
	"A thread's allocations count for the request whose latest request-phase\n"
	"fired on it, until that request ends; those made while it serves no request\n"
	"(reading the next request's line and headers) count for the next request it\n"
	"begins. See ATTRIBUTION in httpdtrace(8).";

/* A uprobe on `func` of the library pid maps whose name starts with `lib`. */
static struct bpf_link *attach_lib(struct bpf_program *prog, pid_t pid, const char *lib,
				   const char *func)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = func);
	char path[4096];

	if (proc_find_mapping(pid, lib, true, path, sizeof(path)) != 1)
		return NULL;
	return bpf_program__attach_uprobe_opts(prog, pid, path, 0, &uo);
}

/* proc_each: attach to a process that maps the module and is new. */
static int attach_proc(pid_t pid, void *ctx)
{
	struct pools_procs *pp = ctx;
	struct bpf_link *palloc, *malloc_;

	if (!proc_maps_file(pid, pp->t->module))
		return 0;
	for (int i = 0; i < pp->n; i++)
		if (pp->pids[i] == pid)
			return 0;
	if (pp->n == POOLS_MAX_PROCS) {
		trace_warn("more than %d processes map the module: the others are not traced",
			   POOLS_MAX_PROCS);
		return 1;
	}
	palloc = attach_lib(pp->skel->progs.apr_palloc, pid, "libapr-1.so", "apr_palloc");
	malloc_ = attach_lib(pp->skel->progs.libc_malloc, pid, "libc.so", "malloc");
	if (!palloc || !malloc_) {
		/* a process that exited meanwhile is no error; the first failure
		 * with live processes is */
		if (proc_exists(pid) && !pp->n)
			pp->err = -ENOENT;
		bpf_link__destroy(palloc);
		bpf_link__destroy(malloc_);
		return 0;
	}
	if (trace_link_add(pp->t, palloc) || trace_link_add(pp->t, malloc_))
		return -ENOMEM;
	pp->pids[pp->n] = pid;
	pp->links[pp->n][0] = palloc;
	pp->links[pp->n][1] = malloc_;
	pp->n++;
	return 0;
}

/* Once a second: children forked since (a graceful restart, a busier
 * server); links of processes that exited are let go. */
static void rescan(void *ctx)
{
	struct pools_procs *pp = ctx;

	for (int i = 0; i < pp->n; i++) {
		if (proc_exists(pp->pids[i]))
			continue;
		trace_link_destroy(pp->t, pp->links[i][0]);
		trace_link_destroy(pp->t, pp->links[i][1]);
		pp->n--;
		pp->pids[i] = pp->pids[pp->n];
		pp->links[i][0] = pp->links[pp->n][0];
		pp->links[i][1] = pp->links[pp->n][1];
		i--;
	}
	proc_each(attach_proc, pp);
	charge_add_procs(pp->t, pp->skel->maps.charge_procs);
}

int pools_main(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &charge_argp, 0, NULL, 0 },
		{ &trace_json_argp, 0, NULL, 0 },
		{ &trace_duration_argp, 0, NULL, 0 },
		{ &trace_stream_argp, 0, "Ring buffer:", 0 },
		{ &trace_argp, 0, "Common options:", 0 },
		{ 0 },
	};
	static const struct argp argp = { NULL, NULL, NULL, pools_doc, children, NULL, NULL };
	struct pools_bpf *skel = NULL;
	struct trace t;
	struct pools_procs pp = { .t = &t };
	struct charge_opts o = { .cols = cols, .ncols = 4, .sort = POOLS_PALLOC_BYTES };
	int err;

	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return 2;
	err = trace_init(&t);
	if (err)
		goto cleanup;
	skel = pools_bpf__open();
	if (!skel) {
		err = -errno;
		trace_err("cannot open the BPF program: %s", strerror(-err));
		goto cleanup;
	}
	err = trace_load(&t, skel->skeleton);
	if (err)
		goto cleanup;
	pp.skel = skel;
	charge_add_procs(&t, skel->maps.charge_procs);
	proc_each(attach_proc, &pp);
	if (pp.err) {
		err = pp.err;
		trace_err("cannot attach to apr_palloc/malloc in Apache's libapr-1.so and libc.so "
			  "(-v shows why)");
		goto cleanup;
	}
	err = trace_attach(&t);
	if (err)
		goto cleanup;
	err = charge_run(&t, &o, rescan, &pp);

cleanup:
	trace_close(&t);
	pools_bpf__destroy(skel);
	charge_free();
	return trace_exit_status(err);
}
