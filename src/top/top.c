/*
 * top.c - `httpdtrace top`: a live apachetop with latency, percentiles and
 * the requests in flight. Full screen (ncurses) on a terminal; -b prints a
 * plain-text snapshot per interval, -j a JSON object per interval.
 *
 * Where the numbers come from (top.bpf.c counts, collect.c reads):
 *
 *   totals    since start: requests per status class, bytes, a log2
 *             latency histogram. Read once a second into a ring of
 *             snapshots: the "last N seconds" window (-T) is the latest
 *             totals minus the newest snapshot at least N seconds old, so
 *             its counts and histogram are exact to the second.
 *   events    only with -H N: one small record per finished request,
 *             drained every 50 ms into a ring of the last N; the "last N
 *             requests" window is a histogram of those.
 *   stats     per (uri, client, vhost, handler, method, status): bytes and
 *             a histogram. Read every -d seconds; rows group these keys by
 *             the shown field (with -s truncation, the regex filter and the
 *             drill-down levels applied in user space), rates are the growth
 *             since the previous read.
 *   inflight  request-start inserts, request-done deletes: the oldest
 *             entries are the requests in flight. An entry whose process
 *             has died (a killed child never fires request-done) is
 *             deleted when seen and counted as "gone".
 *
 * Percentiles are hist_percentile()'s: the upper edge of the log2 slot that
 * holds them, never above the largest latency seen (for the -T window, whose
 * exact max is unknown, the largest slot's upper edge).
 *
 * The parts: table.c keeps what was read and sums the windows,
 * view.c makes the rows (grouped, filtered, scoped, sorted),
 * report.c prints them (the text lines, -b, -j), screen.c is the
 * full screen. This file holds the options, main and the two loops.
 *
 * Collection never waits for the screen: the kernel counts on its own, and
 * both loops wake every TRACE_POLL_MS (with -b/-j as trace_interval_wait()'s
 * tick; in full screen getch()'s timeout is that sleep) to drain events and
 * take the per-second snapshot; `stats` and `inflight` are read only when a
 * screen or report is due, and a filter being typed, the help or a pause
 * hold nothing else up.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "lib/filter.h"
#include "httpdtrace.h"
#include "lib/options.h"
#include "top.h"
#include "top.skel.h"
#include "collect.h"
#include "report.h"
#include "screen.h"
#include "table.h"
#include "view.h"
#include "lib/stream.h"

#define DEFAULT_INTERVAL_MS 2000

static struct env {
	unsigned int window_s;  /* -T */
	unsigned int window_n;  /* -H */
	unsigned int segments;  /* -s */
	unsigned int rows;      /* -r, 0: all (batch) or what fits (screen) */
	unsigned int max_keys;  /* -K */
	enum top_group group;   /* -g */
	enum top_sort sort;     /* -o */
	bool batch;
	const char *filter;     /* -f */
	struct trace_interval interval; /* -d and -n, or [interval] [count] */
} env = { .window_s = 30, .max_keys = TOP_MAX_KEYS };

/* ---------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------- */
const char top_doc[] =
	"A live apachetop: requests, bytes, status classes and latency percentiles\n"
	"since start and over a recent window, a table by uri (or client, vhost,\n"
	"status, method, handler), and the requests in flight.\n"
	"\n"
	"USAGE: httpdtrace top [-b | -j] [-d SECONDS] [-n COUNT] [-T SECONDS | -H N]\n"
	"                      [-g GROUP] [-o SORT] [-s SEGMENTS] [-f REGEX] [-r ROWS]\n"
	"                      [-K KEYS] [-m PATH] [-p PID] [-v] [interval [count]]\n"
	"\n"
	"EXAMPLES:\n"
	"    httpdtrace top                 # full screen; h for the keys\n"
	"    httpdtrace top -s 2            # uris cut to 2 segments: /api/v1/...\n"
	"    httpdtrace top -g client -o p95   # clients, the slowest first\n"
	"    httpdtrace top -H 1000         # recent window: the last 1000 requests\n"
	"    httpdtrace top -b -n 3 -d 5    # 3 text snapshots, 5 s apart\n"
	"    httpdtrace top -b 5 3          # the same\n"
	"    httpdtrace top -j 10 | jq .rows[0]   # one JSON object per 10 s\n"
	"    httpdtrace top -f '^/api/'     # only uris matching a regex\n"
	"\n"
	"Keys: g group, n/r/b/a/p/e/k sort by requests, rate, bytes, avg, p95, 5xx,\n"
	"key; f filter; Enter drill down, Backspace back; i in-flight; space pause;\n"
	"h help; q quit. GROUP: uri client vhost status method handler. SORT:\n"
	"requests rate bytes avg p95 5xx key.";

static const struct argp_option opts[] = {
	{ "batch", 'b', NULL, 0, "Plain-text snapshots on stdout (not full screen)", 0 },
	{ "delay", 'd', "SECONDS", 0, "Refresh or report every SECONDS (default 2; 0.5, 500ms)", 0 },
	{ "iterations", 'n', "COUNT", 0, "Stop after COUNT screens or reports", 0 },
	{ "window", 'T', "SECONDS", 0, "Recent window: the last SECONDS (default 30)", 0 },
	{ "requests", 'H', "N", 0, "Recent window: the last N requests instead", 0 },
	{ "group", 'g', "GROUP", 0, "Rows by uri (default), client, vhost, status, method, "
				    "handler", 0 },
	{ "sort", 'o', "SORT", 0, "Sort by requests (default), rate, bytes, avg, p95, 5xx, key", 0 },
	{ "segments", 's', "N", 0, "Cut uris to their first N path segments", 0 },
	{ "filter", 'f', "REGEX", 0, "Only uris matching REGEX (POSIX extended)", 0 },
	{ "rows", 'r', "ROWS", 0, "At most ROWS rows (and in-flight requests) per report", 0 },
	{ "keys", 'K', "KEYS", 0, "Size of the kernel's table (default 8192 keys)", 0 },
	{ 0 },
};

static int name_index(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], s))
			return i;
	return -1;
}

static unsigned int parse_uint(struct argp_state *state, const char *what, const char *arg,
			       unsigned long long lo, unsigned long long hi)
{
	unsigned long long v;

	if (opt_count_parse(arg, &v) || v < lo || v > hi)
		argp_error(state, "invalid %s '%s': give %llu to %llu", what, arg, lo, hi);
	return (unsigned int)v;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	int i;

	switch (key) {
	case 'b':
		env.batch = true;
		break;
	case 'd':
		if (opt_interval_parse(arg, &env.interval.ms))
			argp_error(state, "invalid delay '%s': give seconds (2, 0.5) or 500ms", arg);
		break;
	case 'n':
		if (opt_count_parse(arg, &env.interval.count))
			argp_error(state, "invalid count '%s': give 1 or more", arg);
		break;
	case 'T':
		env.window_s = parse_uint(state, "window", arg, 1, 3600);
		break;
	case 'H':
		env.window_n = parse_uint(state, "request count", arg, 1, 1000000);
		break;
	case 'g':
		if ((i = name_index(top_group_names, TOP_GROUPS, arg)) < 0)
			argp_error(state, "invalid group '%s': give uri, client, vhost, status, "
				   "method or handler", arg);
		env.group = (enum top_group)i;
		break;
	case 'o':
		if ((i = name_index(top_sort_names, TOP_SORTS, arg)) < 0)
			argp_error(state, "invalid sort '%s': give requests, rate, bytes, avg, "
				   "p95, 5xx or key", arg);
		env.sort = (enum top_sort)i;
		break;
	case 's':
		env.segments = parse_uint(state, "segment count", arg, 1, 64);
		break;
	case 'f':
		env.filter = arg;
		break;
	case 'r':
		env.rows = parse_uint(state, "row count", arg, 1, 1000000);
		break;
	case 'K':
		env.max_keys = parse_uint(state, "key count", arg, 16, 1 << 20);
		break;
	case ARGP_KEY_ARG:
		trace_interval_arg(&env.interval, state, arg);
		break;
	case ARGP_KEY_END:
		if (env.batch && trace_env.json)
			argp_error(state, "-b and -j are two outputs: give one");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * The loops
 * ------------------------------------------------------------------------- */

/* What a run holds, from main to its loop. */
struct top_run {
	struct trace trace;
	struct top_table table;
	struct top_view view;
	struct top_collect collect;
	struct top_frame frame;   /* the last report's or screen's moment */
	struct top_screen screen;
};

/* Read the maps at now; the rows and windows follow. */
static void reload(struct top_run *r, unsigned long long now)
{
	top_collect_read(&r->collect, now);
	top_view_build(&r->view, &r->table);
	top_table_windows(&r->table, now, r->frame.windows);
	r->frame.now_ns = now;
}

/* trace_interval_wait()'s tick with -b and -j. */
static void batch_tick(void *run)
{
	struct top_run *r = run;

	top_collect_poll(&r->collect);
}

/* -b and -j: a report on stdout at the end of each interval (and one more
 * for the interval Ctrl-C cuts short). Returns 0, or a negative errno when
 * stdout cannot be written. */
static int run_batch(struct top_run *r)
{
	int err;

	env.interval.tick = batch_tick;
	env.interval.tick_ctx = r;
	while ((err = trace_interval_wait(&env.interval)) > 0) {
		reload(r, top_collect_poll(&r->collect));
		r->frame.drops = trace_drops(&r->trace);
		if (trace_env.json)
			top_report_json(stdout, &r->table, &r->view, &r->frame);
		else
			top_report_text(stdout, &r->table, &r->view, &r->frame);
	}
	return err;
}

/* Full screen, on a loop of its own rather than trace_interval_wait():
 * getch() is its sleep, so a key redraws at once (and rebuilds the rows: a
 * new sort, group or filter shows now, on the data last read when paused);
 * the first screen comes at once, each refresh -d after the one before, and
 * none while paused. -n COUNT quits when refresh COUNT + 1 is due. */
static int run_screen(struct top_run *r)
{
	struct top_screen *s = &r->screen;
	unsigned long long next = 0, now;
	bool dirty = true;

	top_screen_open(s);
	while (!trace_exiting && !s->quit) {
		if (top_screen_input(s, &r->view)) { /* waits up to TRACE_POLL_MS */
			dirty = true;
			top_view_build(&r->view, &r->table);
		}
		now = top_collect_poll(&r->collect);
		if (!s->paused && now >= next) {
			if (env.interval.count && env.interval.reports++ >= env.interval.count)
				break;
			reload(r, now);
			next = now + env.interval.ms * 1000000ULL;
			dirty = true;
		}
		if (dirty) {
			r->frame.now_ns = now;
			r->frame.drops = trace_drops(&r->trace);
			top_screen_draw(s, &r->table, &r->view, &r->frame);
			dirty = false;
		}
	}
	top_screen_close(s);
	return 0;
}

/* ---------------------------------------------------------------------------
 * Main
 * ------------------------------------------------------------------------- */
int top_main(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &trace_json_argp, 0, "Output (-j: one JSON object per interval):", 0 },
		{ &trace_argp, 0, "Common options:", 0 },
		{ 0 },
	};
	static const struct argp argp = { opts, parse_arg, "[interval [count]]", top_doc, children,
					  NULL, NULL };
	struct top_run r = { 0 };
	struct top_bpf *skel = NULL;
	char why[160];
	int err;

	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return 2;
	if (!env.interval.ms)
		env.interval.ms = DEFAULT_INTERVAL_MS;
	if (!env.batch && !trace_env.json && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		trace_err("full screen needs a terminal: give -b (text) or -j (JSON) for a pipe");
		return 2;
	}
	r.view.group = env.group;
	r.view.sort = env.sort;
	r.view.segments = env.segments;
	r.view.limit = env.rows;
	r.frame.interval_ms = env.interval.ms;
	if (top_table_alloc(&r.table, env.max_keys, env.window_s, env.window_n) ||
	    top_view_alloc(&r.view, env.max_keys)) {
		trace_err("out of memory");
		err = -ENOMEM;
		goto cleanup;
	}
	if (env.filter && top_view_set_filter(&r.view, env.filter, why, sizeof(why))) {
		trace_err("%s (-f takes a POSIX extended regex)", why);
		top_table_free(&r.table);
		top_view_free(&r.view);
		return 2; /* a usage error, as argp's */
	}
	err = trace_init(&r.trace);
	if (err)
		goto cleanup;
	if (!env.batch && !trace_env.json)
		r.trace.end_hint = "q to quit";

	skel = top_bpf__open();
	err = trace_opened(skel);
	if (err)
		goto cleanup;
	skel->rodata->recent_events = env.window_n > 0;
	err = bpf_map__set_max_entries(skel->maps.stats, env.max_keys);
	if (!err && !env.window_n) /* the ring buffer is unused then: keep it small */
		err = bpf_map__set_max_entries(skel->maps.events, (__u32)getpagesize());
	if (err) {
		trace_err("cannot size the maps: %s", strerror(-err));
		goto cleanup;
	}
	err = trace_load(&r.trace, skel->skeleton);
	if (err)
		goto cleanup;
	r.collect.totals_fd = bpf_map__fd(skel->maps.totals);
	r.collect.stats_fd = bpf_map__fd(skel->maps.stats);
	r.collect.inflight_fd = bpf_map__fd(skel->maps.inflight);
	r.collect.table = &r.table;
	err = trace_attach(&r.trace);
	if (err)
		goto cleanup;
	if (env.window_n) {
		err = trace_stream_open(&r.trace, top_table_add_event, &r.table);
		if (err)
			goto cleanup;
		r.collect.events = r.trace.rb;
	}
	top_table_start(&r.table, r.trace.start_ns);

	err = env.batch || trace_env.json ? run_batch(&r) : run_screen(&r);

cleanup:
	top_screen_close(&r.screen);
	trace_close(&r.trace);
	top_bpf__destroy(skel);
	top_table_free(&r.table);
	top_view_free(&r.view);
	return trace_exit_status(err);
}
