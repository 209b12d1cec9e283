/*
 * stream.h - the loops of httpdtrace's subcommands, after trace_attach():
 * a streaming tool's run (events until Ctrl-C, drops said, a summary), the
 * [interval] [count] reports of an aggregating tool, the two generations of
 * its counters, and the TIME column (see trace.h for the whole life cycle).
 */
#ifndef STREAM_H
#define STREAM_H

#include <argp.h>
#include <stdbool.h>
#include "trace.h"

/* An on_drops for -j output: {"type":"drops","dropped":N} on stdout. */
void trace_drops_json(struct trace *t, unsigned long long total);

/* A consumer for the object's `events` map calling fn(ctx, data, size) per
 * event (return 0 from fn; non-zero stops draining); trace_stream_run()
 * opens its own. */
int trace_stream_open(struct trace *t, ring_buffer_sample_fn fn, void *ctx);

/* A streaming subcommand's run after trace_attach(), written once:
 *
 *   consumer of `events` (fn(ctx, data, size) per event; fn counts in count)
 *   begin(ctx)                  the header, if any
 *   until Ctrl-C, -d's deadline or a closed stdout, every TRACE_POLL_MS:
 *           drain, report new drops (stderr once a second at most; with -j
 *           also {"type":"drops","dropped":N}), flush stdout; tick(ctx)
 *           once a second, if given
 *   a last drain; "httpdtrace: N <what>, M dropped" on stderr
 *   end(ctx)                    a closing report, if any
 *   with -j and a json_key: {"type":"summary","<json_key>":N,"dropped":M}
 *
 * Nothing after the drain when stdout closed (| head). Returns 0, or a
 * negative errno (said) if the consumer or stdout failed. */
struct trace_stream {
	ring_buffer_sample_fn fn;
	void *ctx;
	void (*begin)(void *ctx);
	void (*tick)(void *ctx);
	void (*end)(void *ctx);
	const char *what;          /* "requests", "connections" ... */
	const char *json_key;      /* the JSON summary's count; NULL: none */
	unsigned long long count;  /* events, bumped by fn */
};

int trace_stream_run(struct trace *t, struct trace_stream *s);

/* Total events lost to a full ring buffer so far (reads the map). */
unsigned long long trace_drops(struct trace *t);

/* ---------------------------------------------------------------------------
 * [interval] [count]: the positional arguments of aggregating subcommands
 *
 *   static struct trace_interval iv;       (a default interval: set iv.ms first)
 *   parser:  case ARGP_KEY_ARG: trace_interval_arg(&iv, state, arg); break;
 *   after trace_attach():
 *           while ((err = trace_interval_wait(&iv)) > 0)
 *                   print the report (to stdout) and reset the maps
 *           (err is then 0, or negative after a write error)
 *
 * No interval: one report, at Ctrl-C/SIGTERM. An interval: a report at the
 * end of each one (measured from the first wait, so reports do not drift),
 * `count` of them if given, and at Ctrl-C one more for the interval it cut
 * short, as libbpf-tools do. stdout is flushed at each wait; a reader that
 * went away (| head) ends the loop quietly (trace_epipe). A tool with work
 * between reports (top drains events and snapshots its totals) sets iv.tick:
 * the wait then calls it every TRACE_POLL_MS.
 * ------------------------------------------------------------------------- */
struct trace_interval {
	unsigned long long ms;      /* interval; 0: one report, at the end */
	unsigned long long count;   /* reports to make; 0: until Ctrl-C */
	unsigned long long reports; /* reports due so far (trace_interval_wait) */
	unsigned long long next_ns; /* CLOCK_MONOTONIC end of this interval */
	int nargs;                  /* positional arguments parsed */
	void (*tick)(void *ctx);    /* optional: called every TRACE_POLL_MS while waiting */
	void *tick_ctx;
};

/* Call on ARGP_KEY_ARG: the first argument is the interval in seconds ("1",
 * "0.5") or a duration ("500ms"), the second the count of reports; a bad or
 * third argument is an argp_error (usage message, exit 2). */
void trace_interval_arg(struct trace_interval *iv, struct argp_state *state, const char *arg);

/* Flush stdout, then sleep until the next report is due (calling iv->tick,
 * if set, before each TRACE_POLL_MS of it). Returns 1: print a report now;
 * 0: the run is over (count reached, Ctrl-C's report made, or stdout
 * closed); a negative errno if stdout cannot be written (said on stderr). */
int trace_interval_wait(struct trace_interval *iv);

/* While printing report iv->reports: true if it is the last one. */
bool trace_interval_last(const struct trace_interval *iv);

/* Two generations: an aggregating BPF program adds to the counters of
 * generation `gen & 1` (a global in its .bss); at each report user space
 * flips gen with this, which then waits for programs that read the old value
 * to finish (they run for microseconds), so the old generation can be read
 * and cleared without losing what arrives meanwhile. Returns the old one. */
unsigned int trace_gen_flip(unsigned int *gen);

/* A TIME column: trace_wallclock() with -T, else seconds since the attach
 * ("%.3f"). Returns buf. */
char *trace_time(const struct trace *t, char *buf, size_t len, unsigned long long mono_ns);

#endif /* STREAM_H */
