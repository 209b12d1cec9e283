/*
 * pools.c - `httpdtrace pools`: memory Apache allocates per request: calls,
 * bytes and block fetches of apr_palloc() (pool memory; apr_pcalloc() goes
 * through it), also per kind of pool (pools.bpf.c says how both are told),
 * and calls and bytes of libc's malloc(); per request (-r) or per uri at
 * Ctrl-C (charge.c prints those), or the leak view (-L, below; its totals
 * in leak.c).
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
#include "lib/fmt.h"
#include "pools.h"
#include "leak.h"
#include "pools.skel.h"
#include "lib/proc.h"
#include "lib/charge.h"
#include "lib/stream.h"

#define POOLS_MAX_PROCS 256

static const struct charge_col cols[POOLS_COUNTERS] = {
	[POOLS_PALLOC_CALLS] = { "PALLOCS", "palloc_calls", 8, 1 },
	[POOLS_PALLOC_BYTES] = { "PBYTES", "palloc_bytes", 10, 1 },
	[POOLS_BLOCKS] = { "BLOCKS", "blocks", 6, 1 },
	[POOLS_MALLOC_CALLS] = { "MALLOCS", "malloc_calls", 8, 1 },
	[POOLS_MALLOC_BYTES] = { "MBYTES", "malloc_bytes", 10, 1 },
	[POOLS_KIND(POOLS_REQUEST, POOLS_CALLS)] = { "REQCALLS", "request_calls", 8, 1 },
	[POOLS_KIND(POOLS_REQUEST, POOLS_BYTES)] = { "REQUEST", "request_bytes", 9, 1 },
	[POOLS_KIND(POOLS_REQUEST, POOLS_BLKS)] = { "BLK", "request_blocks", 4, 1 },
	[POOLS_KIND(POOLS_CONN, POOLS_CALLS)] = { "CONNCALLS", "conn_calls", 9, 1 },
	[POOLS_KIND(POOLS_CONN, POOLS_BYTES)] = { "CONN", "conn_bytes", 9, 1 },
	[POOLS_KIND(POOLS_CONN, POOLS_BLKS)] = { "BLK", "conn_blocks", 4, 1 },
	[POOLS_KIND(POOLS_CHILD, POOLS_CALLS)] = { "CHILDCALLS", "child_calls", 10, 1 },
	[POOLS_KIND(POOLS_CHILD, POOLS_BYTES)] = { "CHILD", "child_bytes", 9, 1 },
	[POOLS_KIND(POOLS_CHILD, POOLS_BLKS)] = { "BLK", "child_blocks", 4, 1 },
	[POOLS_KIND(POOLS_OTHER, POOLS_CALLS)] = { "OTHERCALLS", "other_calls", 10, 1 },
	[POOLS_KIND(POOLS_OTHER, POOLS_BYTES)] = { "OTHER", "other_bytes", 7, 1 },
	[POOLS_KIND(POOLS_OTHER, POOLS_BLKS)] = { "BLK", "other_blocks", 4, 1 },
};

/* The columns each human view shows (JSON has every counter). */
static const int totals_view[] = {
	POOLS_PALLOC_CALLS, POOLS_PALLOC_BYTES, POOLS_BLOCKS, POOLS_MALLOC_CALLS,
	POOLS_MALLOC_BYTES,
};
static const int kinds_view[] = {
	POOLS_KIND(POOLS_REQUEST, POOLS_BYTES), POOLS_KIND(POOLS_REQUEST, POOLS_BLKS),
	POOLS_KIND(POOLS_CONN, POOLS_BYTES), POOLS_KIND(POOLS_CONN, POOLS_BLKS),
	POOLS_KIND(POOLS_CHILD, POOLS_BYTES), POOLS_KIND(POOLS_CHILD, POOLS_BLKS),
	POOLS_KIND(POOLS_OTHER, POOLS_BYTES), POOLS_KIND(POOLS_OTHER, POOLS_BLKS),
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
	"Count apr_palloc() calls, bytes and block fetches, by kind of pool, and\n"
	"malloc() calls and bytes, per request; or (-L) what requests leave in\n"
	"pools that outlive them, per connection and per child.\n"
	"\n"
	"USAGE: httpdtrace pools [-r] [-k | -L] [-j] [-t N] [-d DURATION]\n"
	"                        [-m PATH] [-p PID] [-v]\n"
	"\n"
	"EXAMPLES:\n"
	"    httpdtrace pools               # per uri, at Ctrl-C (means per request)\n"
	"    httpdtrace pools -t 10         # the 10 uris allocating most pool memory\n"
	"    httpdtrace pools -r            # one line per request as it ends\n"
	"    httpdtrace pools -k            # pool bytes and blocks per kind of pool\n"
	"    httpdtrace pools -L            # connection and child pools' growth\n"
	"    httpdtrace pools -r -j         # every counter as JSON lines\n"
	"\n"
	"Kinds of pool: request (r->pool and its subpools), conn (the connection's\n"
	"pool and its subpools), child (any other pool of the process: child,\n"
	"configuration), other. A thread's allocations count for the request whose\n"
	"latest request-phase fired on it, until that request ends; those made while\n"
	"it serves no request (reading the next request's line and headers) count\n"
	"for the next request it begins. See ATTRIBUTION in httpdtrace(8).";

static struct {
	bool kinds;
	bool leaks;
} env;

static const struct argp_option opts[] = {
	{ "kinds", 'k', NULL, 0, "Pool bytes and block fetches per kind of pool", 0 },
	{ "leaks", 'L', NULL, 0, "Bytes left in connection and child pools, per "
				 "connection and per child, with the uris", 0 },
	{ 0 },
};

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	(void)arg;
	switch (key) {
	case 'k':
		env.kinds = true;
		break;
	case 'L':
		env.leaks = true;
		break;
	case ARGP_KEY_END:
		if (env.kinds && env.leaks)
			argp_error(state, "-k and -L are different views: choose one");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * -L: what requests leave in pools that outlive them (leak.h holds the
 * totals). A line per request that allocated from its connection's or its
 * child's pools, with the running totals of both; at the end a row per
 * connection and per child, with the uris responsible.
 * ------------------------------------------------------------------------- */

static void leak_begin(const struct charge_opts *o)
{
	if (!o->json)
		printf("%-7s %6s %8s %10s %10s %10s %10s %s\n", "PID", "CONN", "ID",
		       "CONNBYTES", "CONNTOTAL", "CHILDBYTES", "CHILDTOTAL", "URI");
}

static int leak_event(const struct charge_opts *o, const struct charge_event *e)
{
	struct leak_req q = {
		.pid = e->pid, .conn_id = e->conn_id, .uri = e->uri,
		.conn_bytes = e->v[POOLS_KIND(POOLS_CONN, POOLS_BYTES)],
		.conn_blocks = e->v[POOLS_KIND(POOLS_CONN, POOLS_BLKS)],
		.child_bytes = e->v[POOLS_KIND(POOLS_CHILD, POOLS_BYTES)],
		.child_blocks = e->v[POOLS_KIND(POOLS_CHILD, POOLS_BLKS)],
	};
	const struct leak_row *conn, *child;
	char uri[FMT_ESC_SIZE(STR_URI)];
	unsigned long long conn_total;

	if (!leak_add(&q, &conn, &child)) {
		trace_err("out of memory");
		return -ENOMEM;
	}
	if (!q.conn_bytes && !q.child_bytes)
		return 0;
	conn_total = conn ? conn->bytes : 0;
	if (o->json) {
		printf("{\"type\":\"leak\",\"id\":%llu,\"pid\":%u,\"conn_id\":%llu,\"uri\":",
		       (unsigned long long)e->id, e->pid, (unsigned long long)e->conn_id);
		fmt_json_str(stdout, e->uri);
		printf(",\"conn_bytes\":%llu,\"conn_blocks\":%llu,\"conn_total\":%llu,"
		       "\"child_bytes\":%llu,\"child_blocks\":%llu,\"child_total\":%llu}\n",
		       q.conn_bytes, q.conn_blocks, conn_total, q.child_bytes, q.child_blocks,
		       child->bytes);
	} else {
		printf("%-7u %6llu %8llu %10llu %10llu %10llu %10llu %s\n", e->pid,
		       (unsigned long long)e->conn_id, (unsigned long long)e->id, q.conn_bytes,
		       conn_total, q.child_bytes, child->bytes, fmt_esc(uri, sizeof(uri), e->uri));
	}
	return 0;
}

static void leak_end(const struct charge_opts *o)
{
	char uri[FMT_ESC_SIZE(STR_URI)];
	const struct leak_row *rows;
	int n;

	rows = leak_rows(&n);
	if (o->top && o->top < n)
		n = o->top;
	if (!o->json)
		printf("\n%-7s %6s %6s %10s %6s %s\n", "PID", "CONN", "REQS", "BYTES", "BLOCKS",
		       "URIS (bytes)");
	for (int i = 0; i < n; i++) {
		const struct leak_row *r = &rows[i];

		if (o->json) {
			printf("{\"type\":\"%s\",\"pid\":%u,", r->conn_id ? "conn" : "child",
			       r->pid);
			if (r->conn_id)
				printf("\"conn_id\":%llu,", r->conn_id);
			printf("\"requests\":%llu,\"bytes\":%llu,\"blocks\":%llu,\"uris\":[",
			       r->requests, r->bytes, r->blocks);
			for (int u = 0; u < r->nuris; u++) {
				printf("%s{\"uri\":", u ? "," : "");
				fmt_json_str(stdout, r->uris[u].uri);
				printf(",\"bytes\":%llu}", r->uris[u].bytes);
			}
			printf("],\"other_uris_bytes\":%llu}\n", r->more_bytes);
			continue;
		}
		printf("%-7u ", r->pid);
		if (r->conn_id)
			printf("%6llu", r->conn_id);
		else
			printf("%6s", "child");
		printf(" %6llu %10llu %6llu", r->requests, r->bytes, r->blocks);
		for (int u = 0; u < r->nuris; u++)
			printf("%s%s %llu", u ? ", " : " ",
			       fmt_esc(uri, sizeof(uri), r->uris[u].uri), r->uris[u].bytes);
		if (r->more_bytes)
			printf(", others %llu", r->more_bytes);
		printf("\n");
	}
}

static const struct charge_view leak_view = { leak_begin, leak_event, leak_end };

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
	static const struct argp argp = { opts, parse_arg, NULL, pools_doc, charge_children, NULL,
					  NULL };
	struct pools_bpf *skel = NULL;
	struct trace t;
	struct pools_procs pp = { .t = &t };
	struct charge_opts o = { .cols = cols, .ncols = POOLS_COUNTERS, .sort = POOLS_PALLOC_BYTES,
				 .show = totals_view, .nshow = sizeof(totals_view) / sizeof(totals_view[0]) };
	int err;

	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return 2;
	if (env.kinds) {
		o.show = kinds_view;
		o.nshow = sizeof(kinds_view) / sizeof(kinds_view[0]);
	}
	if (env.leaks)
		o.view = &leak_view;
	err = trace_init(&t);
	if (err)
		goto cleanup;
	skel = pools_bpf__open();
	err = trace_opened(skel);
	if (err)
		goto cleanup;
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
	leak_free();
	return trace_exit_status(err);
}
