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
 *   skel = x_bpf__open();           then trace_opened(skel) says why not;
 *                                   its own knobs: skel->rodata->...;
 *                                   TRACE_FILTER_SET(skel) if it filters
 *   trace_load(&t, skel->skeleton)  -p and -b applied, then load
 *   trace_attach_other(&t, prog)    (tracepoints) before trace_attach
 *   trace_attach(&t)                every usdt program, by its name, to
 *                                   httpd:<name> in the module, pid -1
 *                                   (name___x also attaches to httpd:<name>);
 *                                   trace_start() is load then attach
 *   trace_stream_run(&t, &s)        streaming tools: events until Ctrl-C
 *   or: while (trace_interval_wait(&iv) > 0) report   aggregating tools
 *                                   (both in stream.h)
 *   trace_close(&t); x_bpf__destroy(skel)
 *
 * The files of lib/: this life cycle (trace.c), the shared options
 * (trace_argp.c), finding the module (module.c), streams and intervals
 * (stream.c), messages (msg.c), clocks (clock.c); and the helpers the
 * subcommands share: value parsers (options.c), formatting (fmt.c), log2
 * histograms (hist.c), uri filters (filter.c), /proc (proc.c), USDT notes
 * (probes.c), per-request work counters (charge.c), and for BPF programs
 * trace.bpf.h, request_filter.bpf.h, phase_track.bpf.h, charge.bpf.h.
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
#include "clock.h"
#include "filter.h"
#include "msg.h"
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

/* The opening of a main() that has nothing to check between its options
 * and trace_init(): argp_parse(), then trace_init(). Returns 0,
 * TRACE_USAGE for a usage error (argp said it), or trace_init()'s negative
 * errno (said). t is zeroed first, so trace_close(t) is safe after any of
 * them, and trace_exit_status() turns TRACE_USAGE into exit status 2. */
#define TRACE_USAGE 2
int trace_begin(struct trace *t, const struct argp *argp, int argc, char **argv);

/* trace_begin(), then skel = x_bpf__open() checked by trace_opened(): for
 * `err = TRACE_OPEN(&t, &argp, argc, argv, skel, x); if (err) goto cleanup;`. */
#define TRACE_OPEN(t, argp, argc, argv, skel, x)                                               \
	({                                                                                     \
		int err_ = trace_begin((t), (argp), (argc), (argv));                           \
		if (!err_) {                                                                   \
			(skel) = x##_bpf__open();                                              \
			err_ = trace_opened(skel);                                             \
		}                                                                              \
		err_;                                                                          \
	})

/* After x_bpf__open(): 0 if it returned a skeleton, else a negative errno,
 * said ("cannot open the BPF program"). */
int trace_opened(const void *skel);

/* trace_load(), then trace_attach(): for a tool with nothing in between. */
int trace_start(struct trace *t, struct bpf_object_skeleton *skel);

/* Detach and free what trace_* made (safe on a zeroed or half-made t). */
void trace_close(struct trace *t);

/* The exit status for a subcommand's error code: 0 when err is 0 or the
 * output pipe closed, 2 for TRACE_USAGE, 1 otherwise. */
int trace_exit_status(int err);

#endif /* TRACE_H */
