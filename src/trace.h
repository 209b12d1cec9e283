/*
 * trace.h - httpdtrace's plumbing, written once for every subcommand.
 *
 * A tracing subcommand (see requests.c) runs this life cycle:
 *
 *   argp_parse(...)                 its argp lists trace_argp (-m -p -v) and
 *                                   the groups it takes: trace_stream_argp
 *                                   (-b), trace_output_argp (-j -T) or
 *                                   trace_json_argp (-j), trace_duration_argp
 *                                   (-d), trace_filter_argp (-s -l -M -H)
 *   trace_init(&t)                  privileges, BPF, BTF, module, -p checks;
 *                                   libbpf's log (-v), SIGINT/SIGTERM/SIGPIPE
 *   skel = x_bpf__open()            its own knobs: skel->rodata->...;
 *                                   TRACE_FILTER_SET(skel) if it filters
 *   trace_load(&t, skel->skeleton)  -p and -b applied, then load
 *   trace_attach_other(&t, prog)    (tracepoints) before trace_attach
 *   trace_attach(&t)                every usdt program, by its name, to
 *                                   httpd:<name> in the module, pid -1
 *                                   (name___x also attaches to httpd:<name>)
 *   trace_stream_run(&t, &s)        streaming tools: events until Ctrl-C
 *   or: while (trace_interval_wait(&iv) > 0) report   aggregating tools
 *   trace_close(&t); x_bpf__destroy(skel)
 *
 * An aggregating tool (latency, top, conns -S, phases) takes libbpf-tools'
 * `[interval] [count]` through trace_interval_arg().
 *
 * Every trace_* function that can fail prints its own one-line error
 * ("httpdtrace: ...: what to do") and returns a negative errno; callers just
 * `goto cleanup` with a non-zero exit.
 */
#ifndef TRACE_H
#define TRACE_H

#include "sizes.h"

#include <argp.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>
#include <bpf/libbpf.h>
#include <string.h>
#include <linux/types.h>
#include "filter.h"
#include "request_filter.h"

#define TRACE_POLL_MS 50
#define TRACE_MODULE_NAME "mod_dtprovider.so"
#ifndef HTTPDTRACE_LIBEXECDIR
#define HTTPDTRACE_LIBEXECDIR "/usr/lib/apache2/modules"
#endif
#define TRACE_INSTALLED_MODULE HTTPDTRACE_LIBEXECDIR "/" TRACE_MODULE_NAME
#define TRACE_PROVIDER "httpd"

/* Options shared by every subcommand, filled by trace_argp/trace_stream_argp. */
struct trace_env {
	const char *module; /* -m PATH, or NULL: find it */
	pid_t pid;          /* -p PID, 0 for every process */
	bool verbose;       /* -v: libbpf's own messages on stderr */
	int buffer_pages;   /* -b N: ring buffer pages (power of 2), 0: default */
	bool json;          /* -j: JSON, one object per line */
	bool clock;         /* -T: wall-clock times */
	unsigned long long duration_us; /* -d: stop after this long; 0: at Ctrl-C */
};

extern struct trace_env trace_env;
extern const struct argp trace_argp;          /* -m, -p, -v */
extern const struct argp trace_stream_argp;   /* -b */
extern const struct argp trace_output_argp;   /* -j, -T */
extern const struct argp trace_json_argp;     /* -j alone */
extern const struct argp trace_duration_argp; /* -d */

/* The request filters that run in BPF (request_filter.h), shared by the
 * commands that trace request-done (requests, latency): -s -l -M -H, filled
 * by trace_filter_argp. TRACE_FILTER_SET(skel) copies them into the
 * program's request_filter knob after x_bpf__open(), before load. */
extern struct request_filter trace_filters;
#define TRACE_FILTER_SET(skel)                                                        \
	do {                                                                          \
		_Static_assert(sizeof((skel)->rodata->request_filter) ==              \
				       sizeof(trace_filters),                         \
			       "request_filter differs between the two sides");       \
		memcpy((void *)&(skel)->rodata->request_filter, &trace_filters,       \
		       sizeof(trace_filters));                                        \
	} while (0)
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
	struct bpf_object *obj;    /* trace_load */
	struct bpf_link **links;   /* every link the subcommand made: */
	int nlinks, links_cap;     /*  trace_link_add(), trace_close() */
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

/* After x_bpf__open() and the subcommand's own knobs: sets trace_tgid from
 * -p and the `events` ring buffer size from -b (if the object has that map),
 * then loads the skeleton (as x_bpf__load() does) with a one-line error on
 * failure, and finds the trace_drops counter (if the object has it). */
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

/* Hand a link the subcommand made itself (a uprobe on one process, a perf
 * event) to t: trace_close() destroys it. Returns 0 or -ENOMEM (said). */
int trace_link_add(struct trace *t, struct bpf_link *link);

/* Destroy a link held by t before the end (its process exited). */
void trace_link_destroy(struct trace *t, struct bpf_link *link);

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

/* Sleep up to `ms` unless trace_exiting is set (wakes early on signals). */
void trace_sleep_ms(unsigned int ms);

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

/* Nanoseconds of CLOCK_MONOTONIC (the clock of bpf_ktime_get_ns()). */
unsigned long long trace_now_ns(void);

/* The one conversion to wall-clock time: "HH:MM:SS.mmm", local time, of the
 * CLOCK_MONOTONIC instant mono_ns (an event's bpf_ktime_get_ns()), through
 * the offset between the two clocks taken at trace_attach(). Returns buf. */
char *trace_wallclock(char *buf, size_t len, unsigned long long mono_ns);

/* A TIME column: trace_wallclock() with -T, else seconds since the attach
 * ("%.3f"). Returns buf. */
char *trace_time(const struct trace *t, char *buf, size_t len, unsigned long long mono_ns);

/* Detach and free what trace_* made (safe on a zeroed or half-made t). */
void trace_close(struct trace *t);

/* The exit status for a subcommand's error code: 0 when err is 0 or the
 * output pipe closed, 1 otherwise. */
int trace_exit_status(int err);

#endif /* TRACE_H */
