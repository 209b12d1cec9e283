/*
 * reqstat.h - per-request counters of work done by the threads serving a
 * request, shared by `httpdtrace pools` and `httpdtrace resources`: the event
 * their BPF side sends when a request is over (reqstat.bpf.h) and the user
 * side that prints one line per request or aggregates per uri (reqstat.c).
 *
 * Attribution rule (docs/man/httpdtrace.8, ATTRIBUTION): a thread works for
 * the request whose latest httpd:::request-phase fired on it, from then until
 * that request's end (phase end) or another request's phase probe on the
 * thread. What a thread does while it works for no request (reading the next
 * request line and headers, accepting, keep-alive waits) is held per thread
 * and charged to the next request that begins on it, for the counters that
 * allow it (not off-CPU time).
 */
#ifndef REQSTAT_H
#define REQSTAT_H

#define REQSTAT_MAX 8        /* counters per request */
#define REQSTAT_URI_LEN 256

struct reqstat_event {
	__u64 id;                 /* request id */
	__u64 v[REQSTAT_MAX];     /* the tool's counters */
	__u32 pid, tid;           /* where the request ended */
	char uri[REQSTAT_URI_LEN]; /* as the client asked */
};

#ifndef __bpf__
#include <argp.h>
#include <stdbool.h>
#include <stdio.h>

/* The options every reqstat tool takes (reqstat_argp, an argp child):
 * -r, -j, -t N, -d DURATION. */
struct reqstat_env {
	bool per_request;
	bool json;
	int top;
	unsigned long long duration_us;
};

extern struct reqstat_env reqstat_env;
extern const struct argp reqstat_argp;

/* A column: heading, JSON key, width, and the divisor from the counter's
 * unit to the shown one (1000: ns shown as µs). */
struct reqstat_col {
	const char *head;
	const char *json;
	int width;
	unsigned long long div;
};

struct reqstat_opts {
	const struct reqstat_col *cols;
	int ncols;
	bool per_request;         /* -r: a line per request; else per uri */
	bool json;
	int sort;                 /* column the per-uri table is sorted on */
	int top;                  /* rows of the per-uri table, 0: all */
};

/* Start: heading of the per-request lines (nothing for the table). */
void reqstat_begin(const struct reqstat_opts *o);

/* A request is over: print it (-r) or add it to its uri's totals. Returns 0. */
int reqstat_event(const struct reqstat_opts *o, const struct reqstat_event *e);

/* Per-uri table (or JSON lines) of the totals since the last report, then
 * forget them. Nothing in per-request mode. */
void reqstat_report(const struct reqstat_opts *o);

/* Free what the aggregation holds. */
void reqstat_free(void);

struct trace;
struct bpf_map;

/* Put every process that maps the traced module into the BPF side's
 * reqstat_procs map, so its threads' work is held for their next request
 * from the start (the BPF side also learns a process at its first phase
 * probe). Call before trace_attach() and then once a second. */
void reqstat_add_procs(struct trace *t, struct bpf_map *procs);

/* The loop of a reqstat tool, after trace_attach(): with o's columns and
 * sort key and reqstat_env's options, drain the events into reqstat_event()
 * until Ctrl-C (or -d), calling tick(ctx) about once a second; then the
 * last drain, the stderr summary and the per-uri report. Returns 0 or a
 * negative errno. */
int reqstat_run(struct trace *t, struct reqstat_opts *o, void (*tick)(void *ctx), void *ctx);
#endif

#endif /* REQSTAT_H */
