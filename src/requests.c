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
#include "lib/filter.h"
#include "lib/fmt.h"
#include "lib/options.h"
#include "httpdtrace.h"
#include "requests.h"
#include "lib/request_filter.h"
#include "requests.skel.h"
#include "lib/stream.h"

static struct env {
	struct filter_uri uri;
	bool query;
} env;

static struct trace t;

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
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static void print_header(void *ctx)
{
	(void)ctx;
	if (trace_env.json)
		return;
	printf("%-12s %10s %3s %-21s %-21s %-6s %s\n", "TIME", "LATENCY", "STA", "LOCAL",
	       "REMOTE", "METHOD", "URI");
}

static void print_line(const struct request_event *e)
{
	char when[32], local[STR_IP + 10], remote[STR_IP + 10], lat[24];
	char method[FMT_ESC_SIZE(STR_METHOD)], uri[FMT_ESC_SIZE(STR_URI)];
	char query[FMT_ESC_SIZE(STR_URI)];

	trace_time(&t, when, sizeof(when), e->ts_ns);
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

	fmt_elapsed(when, sizeof(when), t.start_ns, e->ts_ns);
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
	json_str("trace_id", e->trace_id);
	json_str("parent_id", e->parent_id);
	printf("}\n");
}

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct request_event *e = data;
	struct trace_stream *s = ctx;

	if (size < sizeof(*e) || !filter_uri_match(&env.uri, e->uri))
		return 0;
	s->count++;
	if (trace_env.json)
		print_json(e);
	else
		print_line(e);
	return 0;
}

int requests_main(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &trace_output_argp, 0, "Output:", 0 },
		{ &trace_duration_argp, 0, NULL, 0 },
		{ &trace_stream_argp, 0, "Ring buffer:", 0 },
		{ &trace_argp, 0, "Common options:", 0 },
		{ &trace_filter_argp, 0, "Filters (in the kernel):", 0 },
		{ 0 },
	};
	static const struct argp argp = { opts, parse_arg, NULL, requests_doc, children, NULL,
					  NULL };
	struct trace_stream s = { .fn = handle_event, .begin = print_header,
				  .what = "requests", .json_key = "requests" };
	struct requests_bpf *skel = NULL;
	int err;

	s.ctx = &s;
	err = TRACE_OPEN(&t, &argp, argc, argv, skel, requests);
	if (err)
		goto cleanup;
	TRACE_FILTER_SET(skel);
	err = trace_start(&t, skel->skeleton);
	if (!err)
		err = trace_stream_run(&t, &s);

cleanup:
	trace_close(&t);
	requests_bpf__destroy(skel);
	filter_uri_free(&env.uri);
	return trace_exit_status(err);
}
