/*
 * trace.h - httpdtrace's plumbing, written once for every subcommand.
 *
 * A tracing subcommand (see requests.c) runs this life cycle:
 *
 *   argp_parse(...)                 its argp lists trace_argp (-m -p -v) and,
 *                                   if it streams events, trace_stream_argp
 *                                   (-b) as children
 *   trace_init(&t)                  privileges, BPF, BTF, module, -p checks;
 *                                   libbpf's log (-v), SIGINT/SIGTERM/SIGPIPE
 *   skel = x_bpf__open()            (any other knobs: skel->rodata->... )
 *   trace_prepare(&t, skel->obj)    sets trace_tgid (-p) and the ring buffer
 *                                   size (-b) before load
 *   x_bpf__load(skel)
 *   trace_attach(&t)                every program, by its name, to
 *                                   httpd:<name> in the module, pid -1
 *                                   (name___x also attaches to httpd:<name>)
 *   trace_stream_open(&t, fn, ctx)  (streaming tools) consumer of `events`
 *   while (!trace_exiting)
 *           trace_stream_poll(&t)   drain, report drops, flush, sleep 50 ms
 *                                   (aggregating tools: sleep, read maps)
 *   trace_close(&t); x_bpf__destroy(skel)
 *
 * An aggregating tool (latency, top, conns -S) takes libbpf-tools'
 * `[interval] [count]` through trace_interval_arg() and loops on
 * trace_interval_wait() instead of trace_stream_poll().
 *
 * Every trace_* function that can fail prints its own one-line error
 * ("httpdtrace: ...: what to do") and returns a negative errno; callers just
 * `goto cleanup` with a non-zero exit.
 */
#ifndef TRACE_H
#define TRACE_H

#include <argp.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>
#include <bpf/libbpf.h>
#include "filter.h"

#define TRACE_MAX_LINKS 16
#define TRACE_POLL_MS 50
#define TRACE_MODULE_NAME "mod_dtprovider.so"
#define TRACE_PROVIDER "httpd"

/* Options shared by every subcommand, filled by trace_argp/trace_stream_argp. */
struct trace_env {
	const char *module; /* -m PATH, or NULL: find it */
	pid_t pid;          /* -p PID, 0 for every process */
	bool verbose;       /* -v: libbpf's own messages on stderr */
	int buffer_pages;   /* -b N: ring buffer pages (power of 2), 0: default */
};

extern struct trace_env trace_env;
extern const struct argp trace_argp;        /* -m, -p, -v */
extern const struct argp trace_stream_argp; /* -b */

/* The request filters that run in BPF, shared by the commands that trace
 * request-done (requests, latency): -s -l -M -H, filled by
 * trace_filter_argp. trace_prepare() copies them into the BPF program's
 * knobs status_lo, status_hi (int), min_latency_us (__u64), filt_method[16]
 * and filt_vhost[64], found by name; a filter given to a program that lacks
 * its knob is an error. */
#define TRACE_METHOD_LEN 16
#define TRACE_VHOST_LEN 64

struct trace_filters {
	struct filter_status status;     /* -s, {0, 0}: any */
	unsigned long long min_latency_us; /* -l */
	char method[TRACE_METHOD_LEN];   /* -M, upper-cased; "": any */
	char vhost[TRACE_VHOST_LEN];     /* -H; "": any */
};

extern struct trace_filters trace_filters;
extern const struct argp trace_filter_argp; /* -s, -l, -M, -H */

/* Set by SIGINT/SIGTERM, and when stdout is a closed pipe (then the exit is
 * quiet and 0: see trace_epipe). */
extern volatile sig_atomic_t trace_exiting;
extern volatile sig_atomic_t trace_epipe;

struct trace;
typedef void (*trace_drops_fn)(struct trace *t, unsigned long long total);

struct trace {
	char module[PATH_MAX];     /* the module attached to (trace_init) */
	int nprobes;               /* httpd probes (distinct names) it has */
	int nprocs;                /* processes that had it mapped at start */
	struct bpf_object *obj;    /* trace_prepare */
	struct bpf_link *links[TRACE_MAX_LINKS];
	int nlinks;
	struct ring_buffer *rb;    /* trace_stream_open */
	int drops_fd;              /* the trace_drops map, or -1 */
	unsigned long long drops;  /* last total read */
	unsigned long long drops_shown;
	unsigned long long start_ns; /* CLOCK_MONOTONIC at trace_attach */
	trace_drops_fn on_drops;   /* optional: called when drops grow (after
				    * the stderr line), e.g. for a JSON record */
	const char *end_hint;      /* how to stop, for the "tracing" line;
				    * NULL: "Ctrl-C to end" */
};

/* An on_drops for -j output: {"type":"drops","dropped":N} on stdout. */
void trace_drops_json(struct trace *t, unsigned long long total);

/* One-line messages: "httpdtrace: ..." on stderr. */
void trace_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void trace_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Checks (root or CAP_BPF+CAP_PERFMON, BPF syscall, kernel BTF), resolves the
 * module (-m; else the module mapped by -p's process or by any process; else
 * the installed HTTPDTRACE_LIBEXECDIR/mod_dtprovider.so), checks it has httpd
 * probes and that -p names a live process that maps it. Warns (and goes on)
 * when no process maps the module: the attach covers processes that load it
 * later. Installs the signal handlers and libbpf's print function. */
int trace_init(struct trace *t);

/* After x_bpf__open(), before load: trace_tgid from -p and the filter knobs
 * from trace_filters (an error if the program lacks a knob whose option was
 * given), and the `events` ring buffer size from -b (if the object has that
 * map). */
int trace_prepare(struct trace *t, struct bpf_object *obj);

/* After x_bpf__open() and the knobs: trace_prepare(), then load the
 * skeleton (x_bpf__load() does the same) with a one-line error on failure. */
int trace_load(struct trace *t, struct bpf_object_skeleton *skel);

/* After load: attach each program to httpd:<program name> in t->module for
 * every process (pid -1). Then prints "httpdtrace: tracing N probes in PATH;
 * Ctrl-C to end" (or t->end_hint) on stderr (tests wait for that line). */
int trace_attach(struct trace *t);

/* trace_attach() attaches the programs in section "usdt" only. A program of
 * another kind that libbpf attaches by its section alone (tp_btf/NAME,
 * raw_tp/NAME: no tracefs needed) is attached by this, before trace_attach()
 * so that everything is attached when its "tracing" line appears. */
int trace_attach_other(struct trace *t, struct bpf_program *prog);

/* A consumer for the object's `events` map calling fn(ctx, data, size) per
 * event (return 0 from fn; non-zero stops draining). */
int trace_stream_open(struct trace *t, ring_buffer_sample_fn fn, void *ctx);

/* Drain `events`, report new drops (stderr once a second at most, and
 * t->on_drops), flush stdout, then sleep TRACE_POLL_MS unless exiting.
 * Returns 0, or a negative errno on a consumer error. A closed stdout
 * (EPIPE) sets trace_exiting and trace_epipe and returns 0. */
int trace_stream_poll(struct trace *t);

/* Sleep up to `ms` unless trace_exiting is set (wakes early on signals). */
void trace_sleep_ms(unsigned int ms);

/* Total events lost to a full ring buffer so far (reads the map). */
unsigned long long trace_drops(struct trace *t);

/* Call once after the loop: a last drain (so *count, which the event
 * callback bumps, is final), a last drop report, then the stderr summary
 * "httpdtrace: N <what>, M dropped" (nothing after EPIPE). */
void trace_stream_finish(struct trace *t, const unsigned long long *count, const char *what);

/* ---------------------------------------------------------------------------
 * [interval] [count]: the positional arguments of aggregating subcommands
 *
 *   static struct trace_interval iv;       (top: iv.ms = 1000 first, a default)
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

/* Nanoseconds of CLOCK_MONOTONIC. */
unsigned long long trace_now_ns(void);

/* Detach and free what trace_* made (safe on a zeroed or half-made t). */
void trace_close(struct trace *t);

/* The exit status for a subcommand's error code: 0 when err is 0 or the
 * output pipe closed, 1 otherwise. */
int trace_exit_status(int err);

#endif /* TRACE_H */
