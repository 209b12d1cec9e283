/*
 * exporter.c - `httpdtrace exporter`: the provider's metrics for Prometheus.
 *
 * The BPF side (exporter.bpf.c) adds each request and connection to
 * counters and fixed-bucket histograms in the kernel; this side serves
 * GET /metrics over HTTP (libmicrohttpd, one thread) and reads those maps
 * only when scraped. Names and labels follow OpenTelemetry's HTTP server
 * conventions as Prometheus spells them (exporter.h lists the buckets).
 *
 * Cardinality is bounded in the kernel: at most --max-series request label
 * sets (status, method, protocol, vhost); the requests of any further set
 * go to one series whose labels read _other, and are counted in
 * httpdtrace_exporter_requests_folded_total. No label carries a uri: with
 * --routes, http_route is one of the file's patterns (matched in BPF), or
 * _other.
 */
#include <argp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <microhttpd.h>
#include "httpdtrace.h"
#include "options.h"
#include "proc.h"
#include "exporter.h"
#include "exporter.skel.h"
#include "trace.h"

#define DEFAULT_LISTEN "127.0.0.1:9718"
#define MAX_SERIES_LIMIT 100000

static struct env {
	const char *listen;
	unsigned long long max_series;
	const char *routes_file;
	struct exp_route routes[EXP_MAX_ROUTES];
	char route_names[EXP_MAX_ROUTES][EXP_ROUTE_LEN + 1]; /* as written */
	unsigned int nroutes;
} env = { .listen = DEFAULT_LISTEN, .max_series = EXP_MAX_SERIES };

const char exporter_doc[] =
	"Serve Apache's request and connection metrics to Prometheus (GET /metrics),\n"
	"aggregated in the kernel from mod_dtprovider's probes.\n"
	"\n"
	"USAGE: httpdtrace exporter [--listen ADDR:PORT] [--max-series N]\n"
	"                           [--routes FILE] [-m PATH] [-p PID] [-v]\n"
	"\n"
	"EXAMPLES:\n"
	"    httpdtrace exporter                       # http://127.0.0.1:9718/metrics\n"
	"    httpdtrace exporter --listen [::1]:9718   # IPv6 loopback\n"
	"    httpdtrace exporter --max-series 5000     # more label sets\n"
	"    httpdtrace exporter --routes routes.txt   # http_route from its patterns\n"
	"\n"
	"Metrics: http_server_request_duration_seconds, http_server_response_body_size_bytes\n"
	"and http_server_request_body_size_bytes (histograms by method, status, protocol\n"
	"and vhost), http_server_active_requests, httpd_oldest_request_age_seconds,\n"
	"httpd_connections_* and httpd_connection_* (connections), httpd_info, and the\n"
	"exporter's own httpdtrace_exporter_*. See exporter in httpdtrace(8).";

enum { OPT_LISTEN = 0x100, OPT_MAX_SERIES, OPT_ROUTES };

static const struct argp_option opts[] = {
	{ "listen", OPT_LISTEN, "ADDR:PORT", 0,
	  "Where to serve (default " DEFAULT_LISTEN "; IPv6 as [::1]:9718)", 0 },
	{ "max-series", OPT_MAX_SERIES, "N", 0,
	  "At most N request label sets; more fold into one _other series (default 1000)", 0 },
	{ "routes", OPT_ROUTES, "FILE", 0,
	  "An http_route label from FILE's patterns, one a line: /login, /api/users/* "
	  "(the first that matches; none: _other)", 0 },
	{ 0 },
};

static struct sockaddr_storage listen_addr;
static socklen_t listen_len;

/* "127.0.0.1:9718", "[::1]:9718", "0.0.0.0:9718", "[::]:9718". */
static int parse_listen(const char *s)
{
	char host[64];
	const char *colon, *h = s;
	size_t hlen;
	unsigned long long port;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return -1;
		h = s + 1;
		hlen = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		hlen = (size_t)(colon - s);
	}
	if (!hlen || hlen >= sizeof(host) || opt_count_parse(colon + 1, &port) || port > 65535)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(&listen_addr, 0, sizeof(listen_addr));
	if (s[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&listen_addr;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((unsigned short)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -1;
		listen_len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&listen_addr;

		a->sin_family = AF_INET;
		a->sin_port = htons((unsigned short)port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return -1;
		listen_len = sizeof(*a);
	}
	return 0;
}

/* Read the routes file into env; a one-line error (FILE:LINE: what) in
 * `why` and -1 when a line is not a route. Blank lines and # comments are
 * skipped. */
static int read_routes(const char *path, char *why, size_t len)
{
	char line[512];
	unsigned int n = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct exp_route *r = &env.routes[env.nroutes];
		char *p = line, *end;
		size_t l;

		n++;
		line[strcspn(line, "\r\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (!*p || *p == '#')
			continue;
		l = strlen(p);
		if (*p != '/' || strchr(p, '*') != (p[l - 1] == '*' ? p + l - 1 : NULL) ||
		    strchr(p, '"') || strchr(p, '\\')) {
			snprintf(why, len, "%s:%u: '%s' is not a route: give a path that begins with "
				 "/, or such a path ending in * (a prefix)", path, n, p);
			break;
		}
		if (l - (p[l - 1] == '*') >= EXP_ROUTE_LEN) {
			snprintf(why, len, "%s:%u: route longer than %d bytes", path, n,
				 EXP_ROUTE_LEN - 1);
			break;
		}
		if (env.nroutes == EXP_MAX_ROUTES) {
			snprintf(why, len, "%s:%u: more than %d routes", path, n, EXP_MAX_ROUTES);
			break;
		}
		r->prefix = p[l - 1] == '*';
		r->len = (__u32)(l - r->prefix);
		memcpy(r->path, p, r->len);
		snprintf(env.route_names[env.nroutes], sizeof(env.route_names[0]), "%s", p);
		env.nroutes++;
	}
	fclose(f);
	if (why[0])
		return -1;
	if (!env.nroutes) {
		snprintf(why, len, "%s: no routes in it", path);
		return -1;
	}
	return 0;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	char why[PATH_MAX + 128] = "";

	switch (key) {
	case OPT_ROUTES:
		env.routes_file = arg;
		if (read_routes(arg, why, sizeof(why)))
			argp_error(state, "%s", why);
		break;
	case OPT_LISTEN:
		if (parse_listen(arg))
			argp_error(state, "invalid listen address '%s': give ADDR:PORT, as in "
				   "127.0.0.1:9718 or [::1]:9718", arg);
		env.listen = arg;
		break;
	case OPT_MAX_SERIES:
		if (opt_count_parse(arg, &env.max_series) || env.max_series > MAX_SERIES_LIMIT)
			argp_error(state, "invalid --max-series '%s': give 1 to %d", arg,
				   MAX_SERIES_LIMIT);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * The exposition, built in a growing buffer
 * ------------------------------------------------------------------------- */
struct out {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = o->cap - o->len;

		va_start(ap, fmt);
		n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = true;
			return;
		}
		if (o->buf && (size_t)n < room) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap ? o->cap * 2 : 65536;

		while (cap - o->len <= (size_t)n)
			cap *= 2;
		char *b = realloc(o->buf, cap);

		if (!b) {
			o->failed = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
}

/* A label value as the text format wants it: \\, \" and \n escaped; any
 * other control byte or byte >= 0x80 as the four characters \xNN (a
 * backslash escaped, then xNN), so a label is always valid UTF-8 text. */
static void out_label(struct out *o, const char *s, size_t max)
{
	for (size_t i = 0; i < max && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\')
			out_printf(o, "\\\\");
		else if (c == '"')
			out_printf(o, "\\\"");
		else if (c == '\n')
			out_printf(o, "\\n");
		else if (c < 0x20 || c >= 0x7f)
			out_printf(o, "\\\\x%02X", c);
		else
			out_printf(o, "%c", c);
	}
}

static void out_head(struct out *o, const char *name, const char *type, const char *help)
{
	out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram series: per-bucket counts (not cumulative) with their upper
 * bounds divided by `div` (µs -> s), the sum (divided too) and the count. */
static void out_hist(struct out *o, const char *name, const char *labels,
		     const unsigned long long *bounds, const __u64 *buckets, int n, double div,
		     __u64 sum, __u64 count)
{
	unsigned long long cum = 0;

	const char *open = *labels ? "{" : "", *close = *labels ? "}" : "";

	for (int i = 0; i < n; i++) {
		cum += buckets[i];
		out_printf(o, "%s_bucket{%s%sle=\"%.9g\"} %llu\n", name, labels, *labels ? "," : "",
			   (double)bounds[i] / div, cum);
	}
	out_printf(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels ? "," : "",
		   (unsigned long long)count);
	out_printf(o, "%s_sum%s%s%s %.9g\n", name, open, labels, close, (double)sum / div);
	out_printf(o, "%s_count%s%s%s %llu\n", name, open, labels, close, (unsigned long long)count);
}

static const unsigned long long dur_bounds[EXP_DUR_BUCKETS] = EXP_DUR_BOUNDS_US;
static const unsigned long long size_bounds[EXP_SIZE_BUCKETS] = EXP_SIZE_BOUNDS;
static const unsigned long long conn_dur_bounds[EXP_CONN_DUR_BUCKETS] = EXP_CONN_DUR_BOUNDS_US;
static const unsigned long long conn_reqs_bounds[EXP_CONN_REQS_BUCKETS] = EXP_CONN_REQS_BOUNDS;
static const char *const method_names[EXP_METHODS] = EXP_METHOD_NAMES;
static const char *const protocol_names[EXP_PROTOCOLS] = EXP_PROTOCOL_NAMES;
static const char *const reason_names[EXP_REASONS] = {
	"unknown", "client", "timeout", "server", "aborted", "shutdown",
};

/* One label set and its values summed over the CPUs. */
struct series {
	struct exp_req_key key;
	struct exp_req_val val;
	bool other;
};

static struct exporter_bpf *skel;
static struct trace t;
static int ncpus;

static void val_add(struct exp_req_val *sum, const struct exp_req_val *v)
{
	const __u64 *src = (const __u64 *)v;
	__u64 *dst = (__u64 *)sum;

	for (size_t i = 0; i < sizeof(*v) / sizeof(__u64); i++)
		dst[i] += src[i];
}

/* Every label set of `reqs`, and the overflow one if it counted anything.
 * Returns how many (in *out, malloc'd), or -errno. */
static int read_series(struct series **out)
{
	int fd = bpf_map__fd(skel->maps.reqs), n = 0, cap = 0;
	struct exp_req_val *percpu = calloc((size_t)ncpus, sizeof(*percpu));
	struct exp_req_key key, *prev = NULL;
	struct series *s = NULL;
	__u32 zero = 0;

	if (!percpu)
		return -ENOMEM;
	for (;;) {
		bool last = bpf_map_get_next_key(fd, prev, &key) != 0;
		struct series one = { .other = last };

		if (last) {
			if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.req_other), &zero, percpu))
				break;
		} else {
			prev = &key;
			one.key = key;
			if (bpf_map_lookup_elem(fd, &key, percpu))
				continue; /* gone meanwhile: never, entries are not deleted */
		}
		for (int c = 0; c < ncpus; c++)
			val_add(&one.val, &percpu[c]);
		if (!last || one.val.count) {
			if (n == cap) {
				struct series *g = realloc(s, (size_t)(cap = cap ? 2 * cap : 64) *
								 sizeof(*s));

				if (!g) {
					free(s);
					free(percpu);
					return -ENOMEM;
				}
				s = g;
			}
			s[n++] = one;
		}
		if (last)
			break;
	}
	free(percpu);
	*out = s;
	return n;
}

static void series_labels(char *buf, size_t len, const struct series *s)
{
	struct out o = { 0 };

	const char *route = s->key.route && s->key.route <= env.nroutes ?
				    env.route_names[s->key.route - 1] : "_other";
	int n;

	if (s->other) {
		n = snprintf(buf, len, "http_request_method=\"_OTHER\",http_response_status_code="
			     "\"_other\",network_protocol_version=\"_other\",server_address=\"_other\"");
	} else {
		out_label(&o, s->key.vhost, sizeof(s->key.vhost));
		n = snprintf(buf, len, "http_request_method=\"%s\",http_response_status_code=\"%u\","
			     "network_protocol_version=\"%s\",server_address=\"%s\"",
			     method_names[s->key.method < EXP_METHODS ? s->key.method : 0],
			     s->key.status,
			     protocol_names[s->key.protocol < EXP_PROTOCOLS ? s->key.protocol : 0],
			     o.buf ? o.buf : "");
		free(o.buf);
	}
	/* routes are checked to need no escaping (read_routes) */
	if (env.nroutes && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ",http_route=\"%s\"",
			 s->other ? "_other" : route);
}

static void out_requests(struct out *o, struct series *s, int n)
{
	static const struct {
		const char *name, *help;
		size_t sum, buckets;
		const unsigned long long *bounds;
		int nb;
		double div;
	} hists[] = {
		{ "http_server_request_duration_seconds", "Duration of HTTP server requests.",
		  offsetof(struct exp_req_val, duration_us), offsetof(struct exp_req_val, duration),
		  dur_bounds, EXP_DUR_BUCKETS, 1e6 },
		{ "http_server_response_body_size_bytes", "Size of HTTP server response bodies.",
		  offsetof(struct exp_req_val, response_bytes),
		  offsetof(struct exp_req_val, response), size_bounds, EXP_SIZE_BUCKETS, 1 },
		{ "http_server_request_body_size_bytes", "Size of HTTP server request bodies.",
		  offsetof(struct exp_req_val, request_bytes),
		  offsetof(struct exp_req_val, request), size_bounds, EXP_SIZE_BUCKETS, 1 },
	};
	char labels[1024];

	for (size_t h = 0; h < sizeof(hists) / sizeof(hists[0]); h++) {
		out_head(o, hists[h].name, "histogram", hists[h].help);
		for (int i = 0; i < n; i++) {
			const char *v = (const char *)&s[i].val;

			series_labels(labels, sizeof(labels), &s[i]);
			out_hist(o, hists[h].name, labels, hists[h].bounds,
				 (const __u64 *)(v + hists[h].buckets), hists[h].nb, hists[h].div,
				 *(const __u64 *)(v + hists[h].sum), s[i].val.count);
		}
	}
}

/* Requests in flight, and the start of the oldest (0: none). */
static unsigned long long inflight(unsigned long long *oldest_ns)
{
	int fd = bpf_map__fd(skel->maps.inflight);
	__u64 key, *prev = NULL, start;
	unsigned long long n = 0;

	*oldest_ns = 0;
	while (bpf_map_get_next_key(fd, prev, &key) == 0) {
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &start))
			continue;
		n++;
		if (!*oldest_ns || start < *oldest_ns)
			*oldest_ns = start;
	}
	return n;
}

static int read_totals(struct exp_totals *sum)
{
	struct exp_totals *percpu = calloc((size_t)ncpus, sizeof(*percpu));
	__u32 zero = 0;
	int err = 0;

	memset(sum, 0, sizeof(*sum));
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.totals), &zero, percpu))
		err = -errno;
	for (int c = 0; !err && c < ncpus; c++) {
		const __u64 *src = (const __u64 *)&percpu[c];
		__u64 *dst = (__u64 *)sum;

		for (size_t i = 0; i < sizeof(*sum) / sizeof(__u64); i++)
			dst[i] += src[i];
	}
	free(percpu);
	return err;
}

static void out_connections(struct out *o, const struct exp_totals *x)
{
	unsigned long long closed = 0;

	out_head(o, "httpd_connections_opened_total", "counter",
		 "Client connections accepted (since the exporter started).");
	out_printf(o, "httpd_connections_opened_total %llu\n",
		   (unsigned long long)x->conns_opened);
	out_head(o, "httpd_connections_closed_total", "counter",
		 "Client connections closed, by why (of those opened since the exporter started).");
	for (int r = 0; r < EXP_REASONS; r++) {
		closed += x->conns_closed[r];
		out_printf(o, "httpd_connections_closed_total{reason=\"%s\"} %llu\n", reason_names[r],
			   (unsigned long long)x->conns_closed[r]);
	}
	out_head(o, "httpd_connections_open", "gauge",
		 "Client connections open now (of those opened since the exporter started).");
	out_printf(o, "httpd_connections_open %llu\n",
		   (unsigned long long)x->conns_opened - closed);
	out_head(o, "httpd_connection_duration_seconds", "histogram",
		 "Duration of closed client connections.");
	out_hist(o, "httpd_connection_duration_seconds", "", conn_dur_bounds, x->conn_duration,
		 EXP_CONN_DUR_BUCKETS, 1e6, x->conn_duration_us, closed);
	out_head(o, "httpd_connection_requests", "histogram",
		 "Requests served on each closed client connection.");
	out_hist(o, "httpd_connection_requests", "", conn_reqs_bounds, x->conn_requests_hist,
		 EXP_CONN_REQS_BUCKETS, 1, x->conn_requests, closed);
}

/* httpd_info: one series per Apache parent that maps the module. */
static int info_one(pid_t pid, void *ctx)
{
	struct out *o = ctx;
	char version[PROC_VERSION_LEN], mpm[64];

	if (!proc_maps_file(pid, t.module) || proc_maps_file(proc_ppid(pid), t.module))
		return 0;
	proc_apache_version(pid, version, sizeof(version));
	proc_apache_mpm(pid, mpm, sizeof(mpm));
	out_printf(o, "httpd_info{pid=\"%d\",version=\"", (int)pid);
	out_label(o, version, sizeof(version));
	out_printf(o, "\",mpm=\"");
	out_label(o, mpm, sizeof(mpm));
	out_printf(o, "\",module=\"");
	out_label(o, t.module, sizeof(t.module));
	out_printf(o, "\"} 1\n");
	return 0;
}

static double last_scrape_s;

/* The whole exposition; NULL (said) on failure. */
static char *exposition(size_t *len)
{
	unsigned long long begin = trace_now_ns(), oldest_ns, active;
	struct series *s = NULL;
	struct exp_totals x;
	struct out o = { 0 };
	int n = read_series(&s);

	if (n < 0 || read_totals(&x)) {
		free(s);
		trace_warn("cannot read the BPF maps for a scrape: %s", strerror(n < 0 ? -n : errno));
		return NULL;
	}
	out_requests(&o, s, n);
	free(s);
	active = inflight(&oldest_ns);
	out_head(&o, "http_server_active_requests", "gauge",
		 "Requests being served now (of those begun since the exporter started).");
	out_printf(&o, "http_server_active_requests %llu\n", active);
	out_head(&o, "httpd_oldest_request_age_seconds", "gauge",
		 "Age of the oldest request being served now (0: none).");
	out_printf(&o, "httpd_oldest_request_age_seconds %.6f\n",
		   oldest_ns ? (double)(begin - oldest_ns) / 1e9 : 0.0);
	out_connections(&o, &x);
	out_head(&o, "httpd_info", "gauge", "Apache servers that load the traced module.");
	proc_each(info_one, &o);
	out_head(&o, "httpdtrace_exporter_requests_folded_total", "counter",
		 "Requests counted in the _other series: their label set was past --max-series.");
	out_printf(&o, "httpdtrace_exporter_requests_folded_total %llu\n",
		   (unsigned long long)x.folded);
	out_head(&o, "httpdtrace_exporter_max_series", "gauge",
		 "The --max-series limit of request label sets.");
	out_printf(&o, "httpdtrace_exporter_max_series %llu\n", env.max_series);
	out_head(&o, "httpdtrace_exporter_scrape_duration_seconds", "gauge",
		 "How long the previous scrape took to build.");
	out_printf(&o, "httpdtrace_exporter_scrape_duration_seconds %.6f\n", last_scrape_s);
	out_head(&o, "httpdtrace_exporter_build_info", "gauge", "httpdtrace's version.");
	out_printf(&o, "httpdtrace_exporter_build_info{version=\"%s\"} 1\n", HTTPDTRACE_VERSION);
	last_scrape_s = (double)(trace_now_ns() - begin) / 1e9;
	if (o.failed) {
		free(o.buf);
		trace_warn("out of memory building a scrape");
		return NULL;
	}
	*len = o.len;
	return o.buf;
}

/* ---------------------------------------------------------------------------
 * HTTP
 * ------------------------------------------------------------------------- */
static const char index_page[] =
	"<!DOCTYPE html>\n<html><head><title>httpdtrace exporter</title></head><body>\n"
	"<h1>httpdtrace exporter</h1>\n"
	"<p>Apache httpd metrics from mod_dtprovider's probes, aggregated in the kernel.</p>\n"
	"<p><a href=\"/metrics\">Metrics</a></p>\n</body></html>\n";

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *type,
			     void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **state)
{
	static const char text[] = "text/plain; charset=utf-8";
	static int first;
	char *body;
	size_t len;

	(void)cls;
	(void)version;
	(void)data;
	if (!*state) { /* headers only so far: answer once the request is whole */
		*state = &first;
		return MHD_YES;
	}
	if (*data_size) { /* a body nobody asked for: skip it */
		*data_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text, "only GET and HEAD\n", 18,
			     MHD_RESPMEM_PERSISTENT);
	if (!strcmp(url, "/"))
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", (void *)index_page,
			     sizeof(index_page) - 1, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, text, "not found: see /metrics\n", 24,
			     MHD_RESPMEM_PERSISTENT);
	body = exposition(&len);
	if (!body)
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, text, "cannot read the maps\n", 21,
			     MHD_RESPMEM_PERSISTENT);
	return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len,
		     MHD_RESPMEM_MUST_FREE);
}

/* The listening socket, made here so a taken port or a missing address is
 * a one-line error. */
static int listen_socket(void)
{
	int one = 1, fd = socket(listen_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		trace_err("cannot make a socket for %s: %s", env.listen, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (listen_addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&listen_addr, listen_len) || listen(fd, 64)) {
		trace_err("cannot listen on %s: %s%s", env.listen, strerror(errno),
			  errno == EADDRINUSE ? " (give another port with --listen)" : "");
		close(fd);
		return -1;
	}
	return fd;
}

int exporter_main(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &trace_argp, 0, "Common options:", 0 },
		{ 0 },
	};
	static const struct argp argp = { opts, parse_arg, NULL, exporter_doc, children, NULL,
					  NULL };
	struct MHD_Daemon *d = NULL;
	int err, fd = -1;

	parse_listen(DEFAULT_LISTEN);
	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return 2;
	err = trace_init(&t);
	if (err)
		goto cleanup;
	ncpus = libbpf_num_possible_cpus();
	skel = exporter_bpf__open();
	if (!skel || ncpus <= 0) {
		err = -errno;
		trace_err("cannot open the BPF program: %s", strerror(-err));
		goto cleanup;
	}
	skel->rodata->nroutes = env.nroutes;
	memcpy((void *)skel->rodata->routes, env.routes, sizeof(env.routes));
	err = bpf_map__set_max_entries(skel->maps.reqs, (__u32)env.max_series);
	if (err) {
		trace_err("cannot size the series map: %s", strerror(-err));
		goto cleanup;
	}
	err = trace_load(&t, skel->skeleton);
	if (err)
		goto cleanup;
	fd = listen_socket();
	if (fd < 0) {
		err = -EADDRINUSE;
		goto cleanup;
	}
	t.end_hint = "serving metrics; Ctrl-C to end";
	err = trace_attach(&t);
	if (err)
		goto cleanup;
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
			     on_request, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
			     MHD_OPTION_CONNECTION_LIMIT, 64U, MHD_OPTION_CONNECTION_TIMEOUT, 10U,
			     MHD_OPTION_END);
	if (!d) {
		err = -EIO;
		trace_err("cannot start the HTTP server on %s", env.listen);
		goto cleanup;
	}
	fd = -1; /* the daemon's now */
	fprintf(stderr, "httpdtrace: metrics at http://%s/metrics\n", env.listen);
	while (!trace_exiting)
		trace_sleep_ms(TRACE_POLL_MS * 2);

cleanup:
	if (d)
		MHD_stop_daemon(d);
	if (fd >= 0)
		close(fd);
	trace_close(&t);
	exporter_bpf__destroy(skel);
	return trace_exit_status(err);
}
