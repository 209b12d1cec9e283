/*
 * charge.h - per-request counters of work done by the threads serving a
 * request, shared by `httpdtrace pools` and `httpdtrace resources`: the event
 * their BPF side sends when a request is over (charge.bpf.h) and the user
 * side that prints one line per request or aggregates per uri (charge.c).
 *
 * Attribution rule (docs/man/httpdtrace.8, ATTRIBUTION): a thread works for
 * the request whose latest httpd:::request-phase fired on it, from then until
 * that request's end (phase end) or another request's phase probe on the
 * thread. What a thread does while it works for no request (reading the next
 * request line and headers, accepting, keep-alive waits) is held per thread
 * and charged to the next request that begins on it, for the counters that
 * allow it (not off-CPU time).
 */
#ifndef CHARGE_H
#define CHARGE_H

#include "sizes.h"

#define CHARGE_MAX 20       /* counters per request */

struct charge_event {
	__u64 id;                 /* request id */
	__u64 v[CHARGE_MAX];     /* the tool's counters */
	__u32 pid, tid;           /* where the request ended */
	__u64 conn_id;            /* its client connection, if the tool knows
				   * it (pools), else 0 */
	char uri[STR_URI]; /* as the client asked */
};

#ifndef __bpf__
#include <argp.h>
#include <stdbool.h>
#include <stdio.h>

/* The options every charging tool (pools, resources) takes (charge_argp, an argp child):
 * -r, -t N; it also lists trace_json_argp (-j) and trace_duration_argp
 * (-d). */
struct charge_env {
	bool per_request;
	int top;
};

extern struct charge_env charge_env;
extern const struct argp charge_argp;
/* Every charging tool's argp children: charge_argp, -j, -d, -b and the common
 * options, in the order --help lists them. */
extern const struct argp_child charge_children[];

/* A column: heading, JSON key, width, and the divisor from the counter's
 * unit to the shown one (1000: ns shown as µs). */
struct charge_col {
	const char *head;
	const char *json;
	int width;
	unsigned long long div;
};

struct charge_view;

struct charge_opts {
	const struct charge_col *cols;
	int ncols;                /* counters: every one is in the JSON */
	const int *show;          /* the counters human output shows, in */
	int nshow;                /* order; NULL: all ncols */
	bool per_request;         /* -r: a line per request; else per uri */
	bool json;
	int sort;                 /* column the per-uri table is sorted on */
	int top;                  /* rows of the per-uri table, 0: all */
	/* A tool's own view instead of the per-request lines and per-uri
	 * table: begin before the first event, event per request (returns
	 * 0), end at the end. NULL: the default. */
	const struct charge_view *view;
};

struct charge_view {
	void (*begin)(const struct charge_opts *o);
	int (*event)(const struct charge_opts *o, const struct charge_event *e);
	void (*end)(const struct charge_opts *o);
};

/* Start: heading of the per-request lines (nothing for the table). */
void charge_begin(const struct charge_opts *o);

/* A request is over: print it (-r) or add it to its uri's totals. Returns 0. */
int charge_event(const struct charge_opts *o, const struct charge_event *e);

/* Per-uri table (or JSON lines) of the totals since the last report, then
 * forget them. Nothing in per-request mode. */
void charge_report(const struct charge_opts *o);

/* Free what the aggregation holds. */
void charge_free(void);

struct trace;
struct bpf_map;

/* Put every process that maps the traced module into the BPF side's
 * charge_procs map, so its threads' work is held for their next request
 * from the start (the BPF side also learns a process at its first phase
 * probe). Call before trace_attach() and then once a second. */
void charge_add_procs(struct trace *t, struct bpf_map *procs);

/* The run of a charging tool, after trace_attach(): trace_stream_run() with
 * o's columns and sort key and the options, each event into charge_event(),
 * tick(ctx) about once a second, and the per-uri report at the end. Returns
 * 0 or a negative errno. */
int charge_run(struct trace *t, struct charge_opts *o, void (*tick)(void *ctx), void *ctx);
#endif

#endif /* CHARGE_H */
