/*
 * requests.c - `httpdtrace requests`: one line per finished request, the
 * seed's request viewer: time, latency, status, local and remote address,
 * method, uri. -j writes JSON lines with every field of the request info.
 *
 * Filters on status, minimum latency, method and vhost run in BPF (requests.bpf.c)
 * so filtered-out requests never cross the ring buffer; the uri filter
 * (substring or regex) runs here, since BPF cannot run a regex.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "filter.h"
#include "fmt.h"
#include "httpdtrace.h"
#include "requests.h"
#include "requests.skel.h"
#include "trace.h"

static struct env {
	struct filter_uri uri;
	bool query;
	bool json;
	bool clock;
	unsigned long long duration_us;
} env;

static unsigned long long nrequests;
static unsigned long long start_ns;

const char requests_doc[] =
	"Show one line per finished request (httpd:::request-done).\n"
	"\n"
	"USAGE: httpdtrace requests [-s STATUS] [-l LATENCY] [-M METHOD] [-H VHOST]\n"
	"                           [-u SUBSTR] [-U REGEX] [-q] [-j] [-T] [-d DURATION]\n"
	"                           [-b PAGES] [-m PATH] [-p PID] [-v]\n"
	"\n"
	"EXAMPLES:\n"
	"    httpdtrace requests              # every request of every Apache\n"
	"    httpdtrace requests -s 5xx       # server errors only\n"
	"    httpdtrace requests -s 404 -q    # not found, with query strings\n"
	"    httpdtrace requests -l 100ms     # requests slower than 100 ms\n"
	"    httpdtrace requests -M POST -u /api/   # POSTs to uris with /api/\n"
	"    httpdtrace requests -H www.example.com # one virtual host\n"
	"    httpdtrace requests -p 1234      # Apache parent 1234 (all its children)\n"
	"    httpdtrace requests -j | jq .uri # JSON lines\n"
	"    httpdtrace requests -d 10s       # trace for 10 seconds\n"
	"\n"
	"Status, latency, method and vhost filters run in the kernel; the uri filters\n"
	"in httpdtrace. Query strings are hidden unless -q (in JSON: \"query\": null).";

static const struct argp_option opts[] = {
	{ "uri", 'u', "SUBSTR", 0, "Only uris containing SUBSTR", 0 },
	{ "uri-regex", 'U', "REGEX", 0, "Only uris matching REGEX (POSIX extended)", 0 },
	{ "query", 'q', NULL, 0, "Show query strings (hidden by default)", 0 },
	{ "json", 'j', NULL, 0, "JSON lines: every field of the request info, pid, tid", 0 },
	{ "timestamp", 'T', NULL, 0, "TIME as wall-clock HH:MM:SS.mmm (default: seconds "
				      "since the start)", 0 },
	{ "duration", 'd', "DURATION", 0, "Stop after DURATION (10s, 1m)", 0 },
	{ 0 },
};

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	char err[128];

	switch (key) {
	case 'u':
		env.uri.substr = arg;
		break;
	case 'U':
		if (filter_uri_regex(&env.uri, arg, err, sizeof(err)))
			argp_error(state, "invalid regex '%s': %s", arg, err);
		break;
	case 'q':
		env.query = true;
		break;
	case 'j':
		env.json = true;
		break;
	case 'T':
		env.clock = true;
		break;
	case 'd':
		if (filter_duration_parse(arg, &env.duration_us) || !env.duration_us)
			argp_error(state, "invalid duration '%s': give a positive number and a "
				   "unit, as in 10s, 1m", arg);
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static void print_header(void)
{
	printf("%-12s %10s %3s %-21s %-21s %-6s %s\n", "TIME", "LATENCY", "STA", "LOCAL",
	       "REMOTE", "METHOD", "URI");
}

static void print_line(const struct request_event *e)
{
	char when[32], local[REQ_IP_LEN + 10], remote[REQ_IP_LEN + 10], lat[24];
	char method[FMT_ESC_SIZE(REQ_SHORT_LEN)], uri[FMT_ESC_SIZE(REQ_URI_LEN)];
	char query[FMT_ESC_SIZE(REQ_QUERY_LEN)];

	if (env.clock)
		fmt_clock(when, sizeof(when), e->start_us + e->latency_us);
	else
		fmt_elapsed(when, sizeof(when), start_ns, e->ts_ns);
	snprintf(lat, sizeof(lat), "%lluus", (unsigned long long)e->latency_us);
	printf("%-12s %10s %3d %-21s %-21s %-6s %s%s%s\n", when, lat, e->status,
	       fmt_addr(local, sizeof(local), e->local_ip, e->local_port),
	       fmt_addr(remote, sizeof(remote), e->peer_ip, e->peer_port),
	       e->method[0] ? fmt_esc(method, sizeof(method), e->method) : "-",
	       e->uri[0] ? fmt_esc(uri, sizeof(uri), e->uri) : "-",
	       env.query && e->query[0] ? "?" : "",
	       env.query ? fmt_esc(query, sizeof(query), e->query) : "");
}

static void json_str(const char *key, const char *val)
{
	printf(",\"%s\":", key);
	fmt_json_str(stdout, val);
}

static void print_json(const struct request_event *e)
{
	char when[32];

	fmt_elapsed(when, sizeof(when), start_ns, e->ts_ns);
	printf("{\"type\":\"request\",\"time\":%s,\"pid\":%u,\"tid\":%u,\"version\":%u,"
	       "\"size\":%u,\"id\":%llu,\"conn_id\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu,"
	       "\"start_us\":%llu,\"latency_us\":%llu,\"status\":%d,\"local_port\":%u,"
	       "\"peer_port\":%u",
	       when, e->pid, e->tid, e->version, e->size, (unsigned long long)e->id,
	       (unsigned long long)e->conn_id, (unsigned long long)e->bytes_in,
	       (unsigned long long)e->bytes_out, (unsigned long long)e->start_us,
	       (unsigned long long)e->latency_us, e->status, e->local_port, e->peer_port);
	json_str("method", e->method);
	json_str("uri", e->uri);
	if (env.query)
		json_str("query", e->query);
	else
		printf(",\"query\":null");
	json_str("protocol", e->protocol);
	json_str("vhost", e->vhost);
	json_str("handler", e->handler);
	json_str("local_ip", e->local_ip);
	json_str("peer_ip", e->peer_ip);
	json_str("useragent_ip", e->useragent_ip);
	json_str("user_agent", e->user_agent);
	printf("}\n");
}

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct request_event *e = data;

	(void)ctx;
	if (size < sizeof(*e) || !filter_uri_match(&env.uri, e->uri))
		return 0;
	nrequests++;
	if (env.json)
		print_json(e);
	else
		print_line(e);
	return 0;
}

int requests_main(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &trace_stream_argp, 0, "Ring buffer:", 0 },
		{ &trace_argp, 0, "Common options:", 0 },
		{ &trace_filter_argp, 0, "Filters (in the kernel):", 0 },
		{ 0 },
	};
	static const struct argp argp = { opts, parse_arg, NULL, requests_doc, children, NULL,
					  NULL };
	struct requests_bpf *skel = NULL;
	struct trace t = { .drops_fd = -1 };
	unsigned long long deadline = 0;
	int err;

	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return 2;
	err = trace_init(&t);
	if (err)
		goto cleanup;

	skel = requests_bpf__open();
	if (!skel) {
		err = -errno;
		trace_err("cannot open the BPF program: %s", strerror(-err));
		goto cleanup;
	}
	err = trace_load(&t, skel->skeleton);
	if (err)
		goto cleanup;
	err = trace_attach(&t);
	if (err)
		goto cleanup;
	t.on_drops = env.json ? trace_drops_json : NULL;
	err = trace_stream_open(&t, handle_event, NULL);
	if (err)
		goto cleanup;

	start_ns = t.start_ns;
	if (env.duration_us)
		deadline = start_ns + env.duration_us * 1000ULL;
	if (!env.json)
		print_header();
	while (!trace_exiting) {
		err = trace_stream_poll(&t);
		if (err)
			break;
		if (deadline && trace_now_ns() >= deadline)
			break;
	}
	if (!err) {
		trace_stream_finish(&t, &nrequests, "requests");
		if (env.json && !trace_epipe) {
			printf("{\"type\":\"summary\",\"requests\":%llu,\"dropped\":%llu}\n",
			       nrequests, trace_drops(&t));
			fflush(stdout);
		}
	}

cleanup:
	trace_close(&t);
	requests_bpf__destroy(skel);
	filter_uri_free(&env.uri);
	return trace_exit_status(err);
}
