/*
 * conns.c - `httpdtrace conns`: one line per closed client connection (peer,
 * local address, requests on it, duration, wire bytes in and out), from
 * httpd:::conn-start and conn-done paired by conn id in BPF; or, with -S, a
 * summary per interval: accepts (and per second), closes, connections open,
 * requests, bytes, and the histogram of requests per closed connection.
 *
 * A connection whose conn-start was not seen (accepted before httpdtrace
 * attached) still gets its line: addresses "-" (JSON: null,
 * "start_seen":false), the counts and duration from conn-done.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <linux/types.h>
#include "lib/fmt.h"
#include "lib/hist.h"
#include "httpdtrace.h"
#include "conns.h"
#include "mod_dtprovider.h"
#include "conns.skel.h"
#include "lib/stream.h"

#define SUMMARY_INTERVAL_MS 1000 /* -S without an interval */

static struct env {
	bool summary;
	struct trace_interval iv;
} env;

static struct trace t;

const char conns_doc[] =
	"Show one line per closed client connection (httpd:::conn-start and\n"
	"conn-done): peer, local address, requests, duration, wire bytes in and out.\n"
	"With -S, a summary per interval instead.\n"
	"\n"
	"USAGE: httpdtrace conns [-j] [-T] [-b PAGES] [-m PATH] [-p PID] [-v]\n"
	"       httpdtrace conns -S [-j] [-T] [-m PATH] [-p PID] [-v] [interval [count]]\n"
	"\n"
	"EXAMPLES:\n"
	"    httpdtrace conns                 # every connection as it closes\n"
	"    httpdtrace conns -T -p 1234      # one server, with wall-clock times\n"
	"    httpdtrace conns -j | jq .bytes_out  # JSON lines\n"
	"    httpdtrace conns -S              # accepts/s, open, closes every second\n"
	"    httpdtrace conns -S 10 6         # every 10 s for a minute\n"
	"\n"
	"Bytes are counted on the wire (headers, bodies, TLS records) by the module,\n"
	"for connections accepted while conns runs. A connection accepted before it\n"
	"started shows '-' for its addresses. -S counts as open the connections\n"
	"accepted since it started that are not closed yet.";

static const struct argp_option opts[] = {
	{ "summary", 'S', NULL, 0, "A summary per interval (default: every second)", 0 },
	{ 0 },
};

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'S':
		env.summary = true;
		break;
	case ARGP_KEY_ARG:
		trace_interval_arg(&env.iv, state, arg);
		break;
	case ARGP_KEY_END:
		if (env.iv.nargs && !env.summary)
			argp_error(state, "[interval] [count] go with -S");
		if (env.summary && !env.iv.ms)
			env.iv.ms = SUMMARY_INTERVAL_MS;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * One line per connection
 * ------------------------------------------------------------------------- */
/* conn-done's reason (HTTPD_CONN_END_*, mod_dtprovider.h) as a word. */
static const char *const reason_names[CONN_REASONS] = {
	[HTTPD_CONN_END_UNKNOWN] = "unknown", [HTTPD_CONN_END_CLIENT] = "client",
	[HTTPD_CONN_END_TIMEOUT] = "timeout", [HTTPD_CONN_END_SERVER] = "server",
	[HTTPD_CONN_END_ABORTED] = "aborted", [HTTPD_CONN_END_SHUTDOWN] = "shutdown",
};

static const char *reason_name(unsigned int reason)
{
	return reason < CONN_REASONS ? reason_names[reason] : "unknown";
}

static void print_header(void *ctx)
{
	(void)ctx;
	if (trace_env.json)
		return;
	if (trace_env.clock)
		printf("%-12s ", "TIME");
	printf("%-21s %-21s %4s %10s %9s %9s %s\n", "PEER", "LOCAL", "REQS", "DURATION",
	       "BYTES_IN", "BYTES_OUT", "END");
}

static void print_line(const struct conn_event *e)
{
	char peer[STR_IP + 10], local[STR_IP + 10], dur[24], when[32];

	if (trace_env.clock)
		printf("%-12s ", trace_wallclock(when, sizeof(when), e->ts_ns));
	snprintf(dur, sizeof(dur), "%lluus", (unsigned long long)e->duration_us);
	printf("%-21s %-21s %4u %10s %9llu %9llu %s\n",
	       fmt_addr(peer, sizeof(peer), e->peer_ip, e->peer_port),
	       fmt_addr(local, sizeof(local), e->local_ip, e->local_port), e->requests, dur,
	       (unsigned long long)e->bytes_in, (unsigned long long)e->bytes_out,
	       reason_name(e->reason));
}

static void json_ip(const char *key, const char *ip, unsigned int port, bool seen)
{
	printf(",\"%s_ip\":", key);
	if (seen)
		fmt_json_str(stdout, ip);
	else
		printf("null");
	printf(",\"%s_port\":", key);
	if (seen)
		printf("%u", port);
	else
		printf("null");
}

static void print_json(const struct conn_event *e)
{
	char when[32];

	printf("{\"type\":\"conn\",\"time\":%s,\"pid\":%u,\"conn_id\":%llu,\"start_seen\":%s",
	       fmt_elapsed(when, sizeof(when), t.start_ns, e->ts_ns), e->pid,
	       (unsigned long long)e->conn_id, e->start_seen ? "true" : "false");
	json_ip("peer", e->peer_ip, e->peer_port, e->start_seen);
	json_ip("local", e->local_ip, e->local_port, e->start_seen);
	printf(",\"requests\":%u,\"duration_us\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu,"
	       "\"reason\":\"%s\"}\n",
	       e->requests, (unsigned long long)e->duration_us, (unsigned long long)e->bytes_in,
	       (unsigned long long)e->bytes_out, reason_name(e->reason));
}

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct conn_event *e = data;
	struct trace_stream *s = ctx;

	if (size < sizeof(*e))
		return 0;
	s->count++;
	if (trace_env.json)
		print_json(e);
	else
		print_line(e);
	return 0;
}

/* ---------------------------------------------------------------------------
 * -S: a summary per interval
 * ------------------------------------------------------------------------- */
/* Generation g of the summaries, summed over CPUs, then zeroed. */
static int take_summary(struct conns_bpf *skel, __u32 g, struct conn_summary *out)
{
	int ncpus = libbpf_num_possible_cpus(), fd = bpf_map__fd(skel->maps.summaries);
	struct conn_summary *percpu;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (ncpus <= 0 || !(percpu = calloc(ncpus, sizeof(*percpu))))
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &g, percpu)) {
		err = -errno;
		goto out;
	}
	for (int i = 0; i < ncpus; i++) {
		out->accepts += percpu[i].accepts;
		out->closes += percpu[i].closes;
		out->requests += percpu[i].requests;
		out->bytes_in += percpu[i].bytes_in;
		out->bytes_out += percpu[i].bytes_out;
		for (int r = 0; r < CONN_REASONS; r++)
			out->ends[r] += percpu[i].ends[r];
		hist_merge(&out->reqs, &percpu[i].reqs);
	}
	memset(percpu, 0, ncpus * sizeof(*percpu));
	if (bpf_map_update_elem(fd, &g, percpu, BPF_ANY))
		err = -errno;
out:
	free(percpu);
	return err;
}

/* Connections accepted while tracing and not closed yet. */
static unsigned long long count_open(struct conns_bpf *skel)
{
	int fd = bpf_map__fd(skel->maps.open_conns);
	unsigned long long n = 0;
	__u64 key, next, *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		n++;
	}
	return n;
}

static int summary_report(struct conns_bpf *skel, unsigned long long *last_ns)
{
	struct conn_summary s;
	unsigned long long now = trace_now_ns(), open;
	double secs = (double)(now - *last_ns) / 1e9, rate;
	__u32 g = trace_gen_flip(&skel->bss->gen);
	char when[32];
	int err = take_summary(skel, g, &s);

	if (err) {
		trace_err("reading the summary: %s", strerror(-err));
		return err;
	}
	open = count_open(skel);
	*last_ns = now;
	rate = secs > 0 ? (double)s.accepts / secs : 0;
	if (trace_env.json) {
		printf("{\"type\":\"conns\",\"time\":%s,\"report\":%llu,\"seconds\":%.3f,"
		       "\"accepts\":%llu,\"accepts_per_s\":%.1f,\"closes\":%llu,\"open\":%llu,"
		       "\"requests\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu,"
		       "\"requests_per_conn\":{",
		       fmt_elapsed(when, sizeof(when), t.start_ns, now), env.iv.reports, secs, (unsigned long long)s.accepts,
		       rate, (unsigned long long)s.closes, open, (unsigned long long)s.requests,
		       (unsigned long long)s.bytes_in, (unsigned long long)s.bytes_out);
		hist_json(stdout, &s.reqs);
		printf("},\"ends\":{");
		for (int r = 0; r < CONN_REASONS; r++)
			printf("%s\"%s\":%llu", r ? "," : "", reason_names[r],
			       (unsigned long long)s.ends[r]);
		printf("}}\n");
		return 0;
	}
	printf("%s  accepts %llu (%.1f/s), closes %llu, open %llu, requests %llu, bytes in %llu "
	       "out %llu\n", trace_time(&t, when, sizeof(when), now), (unsigned long long)s.accepts, rate, (unsigned long long)s.closes,
	       open, (unsigned long long)s.requests, (unsigned long long)s.bytes_in,
	       (unsigned long long)s.bytes_out);
	if (s.closes) {
		printf("  ended:");
		for (int r = 0; r < CONN_REASONS; r++)
			if (s.ends[r])
				printf(" %s %llu", reason_names[r], (unsigned long long)s.ends[r]);
		printf("\n");
		hist_print(stdout, &s.reqs, "requests per closed connection");
		hist_print_stats(stdout, &s.reqs);
	}
	printf("\n");
	return 0;
}

int conns_main(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &trace_output_argp, 0, "Output:", 0 },
		{ &trace_stream_argp, 0, "Ring buffer (without -S):", 0 },
		{ &trace_argp, 0, "Common options:", 0 },
		{ 0 },
	};
	static const struct argp argp = { opts, parse_arg, "[-S [interval [count]]]", conns_doc,
					  children, NULL, NULL };
	struct trace_stream s = { .fn = handle_event, .begin = print_header,
				  .what = "connections", .json_key = "connections" };
	struct conns_bpf *skel = NULL;
	unsigned long long last_ns;
	int err;

	err = TRACE_OPEN(&t, &argp, argc, argv, skel, conns);
	if (err)
		goto cleanup;
	skel->rodata->summary = env.summary;
	/* -S streams nothing: one page of ring buffer instead of 4 MiB */
	if (env.summary && (err = bpf_map__set_max_entries(skel->maps.events, getpagesize()))) {
		trace_err("cannot size the ring buffer: %s", strerror(-err));
		goto cleanup;
	}
	err = trace_start(&t, skel->skeleton);
	if (err)
		goto cleanup;
	last_ns = t.start_ns;
	if (!env.summary) {
		s.ctx = &s;
		err = trace_stream_run(&t, &s);
		goto cleanup;
	}
	while ((err = trace_interval_wait(&env.iv)) > 0) {
		err = summary_report(skel, &last_ns);
		if (err)
			break;
	}

cleanup:
	trace_close(&t);
	conns_bpf__destroy(skel);
	return trace_exit_status(err);
}
