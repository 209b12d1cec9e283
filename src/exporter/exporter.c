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
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <microhttpd.h>
#include "dashboard.h"
#include "httpdtrace.h"
#include "lib/options.h"
#include "lib/proc.h"
#include "exporter.h"
#include "exporter.skel.h"
#include "metrics.h"
#include "lib/trace.h"

#define DEFAULT_LISTEN "127.0.0.1:9718"
#define MAX_SERIES_LIMIT 100000

static struct env {
	const char *listen;
	unsigned long long max_series;
	const char *routes_file;
	char *tls_cert, *tls_key;     /* PEM text, read at start */
	char *auth_user, *auth_pass;  /* --basic-auth */
	struct exp_route routes[EXP_MAX_ROUTES];
	char route_names[EXP_MAX_ROUTES][EXP_ROUTE_LEN + 1]; /* as written */
	unsigned int nroutes;
	bool phases;                  /* --phases */
	bool no_dashboard;            /* --no-dashboard */
} env = { .listen = DEFAULT_LISTEN, .max_series = EXP_MAX_SERIES };

const char exporter_doc[] =
	"Serve Apache's request and connection metrics to Prometheus (GET /metrics),\n"
	"aggregated in the kernel from mod_dtprovider's probes.\n"
	"\n"
	"USAGE: httpdtrace exporter [--listen ADDR:PORT] [--max-series N]\n"
	"                           [--routes FILE] [--tls-cert FILE --tls-key FILE]\n"
	"                           [--basic-auth FILE] [--phases] [--no-dashboard]\n"
	"                           [-m PATH] [-p PID] [-v]\n"
	"\n"
	"EXAMPLES:\n"
	"    httpdtrace exporter                       # http://127.0.0.1:9718/metrics\n"
	"                                              # and the dashboard at /\n"
	"    httpdtrace exporter --listen [::1]:9718   # IPv6 loopback\n"
	"    httpdtrace exporter --max-series 5000     # more label sets\n"
	"    httpdtrace exporter --routes routes.txt   # http_route from its patterns\n"
	"    httpdtrace exporter --phases              # and time per processing phase\n"
	"\n"
	"Metrics: http_server_request_duration_seconds, http_server_response_body_size_bytes\n"
	"and http_server_request_body_size_bytes (histograms by method, status, protocol\n"
	"and vhost), http_server_active_requests, httpd_oldest_request_age_seconds,\n"
	"httpd_connections_* and httpd_connection_* (connections), httpd_info, the\n"
	"exporter's own httpdtrace_exporter_*, and with --phases\n"
	"httpd_request_phase_duration_seconds.\n"
	"The dashboard at / shows them live in a browser, with the requests in flight\n"
	"and the top uris (--no-dashboard: /metrics only).\n"
	"OpenMetrics (with exemplars) when asked for. See exporter in httpdtrace(8).";

enum { OPT_LISTEN = 0x100, OPT_MAX_SERIES, OPT_ROUTES, OPT_TLS_CERT, OPT_TLS_KEY, OPT_AUTH,
       OPT_PHASES, OPT_NO_DASHBOARD };

static const struct argp_option opts[] = {
	{ "listen", OPT_LISTEN, "ADDR:PORT", 0,
	  "Where to serve (default " DEFAULT_LISTEN "; IPv6 as [::1]:9718)", 0 },
	{ "max-series", OPT_MAX_SERIES, "N", 0,
	  "At most N request label sets; more fold into one _other series (default 1000)", 0 },
	{ "routes", OPT_ROUTES, "FILE", 0,
	  "An http_route label from FILE's patterns, one a line: /login, /api/users/* "
	  "(the first that matches; none: _other)", 0 },
	{ "tls-cert", OPT_TLS_CERT, "FILE", 0, "Serve HTTPS with this certificate (PEM)", 0 },
	{ "tls-key", OPT_TLS_KEY, "FILE", 0, "... and this private key (PEM)", 0 },
	{ "basic-auth", OPT_AUTH, "FILE", 0,
	  "Ask for HTTP basic authentication: FILE holds one line, user:password", 0 },
	{ "phases", OPT_PHASES, NULL, 0,
	  "Also a histogram of the time spent in each processing phase (traces one more "
	  "probe, which fires 3 to 6 times a request)", 0 },
	{ "no-dashboard", OPT_NO_DASHBOARD, NULL, 0,
	  "No live page at /: serve /metrics only", 0 },
	{ 0 },
};

static struct sockaddr_storage listen_addr;
static socklen_t listen_len;
static struct exporter_bpf *skel;
static struct exporter_config config;
static struct trace t;
/* A scrape at a time: connections have a thread each (for the dashboard's
 * streams), and a scrape keeps state between scrapes. */
static pthread_mutex_t scrape_lock = PTHREAD_MUTEX_INITIALIZER;

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

/* A whole small file (at most 1 MiB) as a string; NULL with why. */
static char *read_small_file(const char *path, char *why, size_t len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n = 0;

	if (f && (buf = malloc((1 << 20) + 1)))
		n = fread(buf, 1, 1 << 20, f);
	if (!f || !buf || ferror(f) || !n) {
		snprintf(why, len, "%s: %s", path, !f ? strerror(errno) : "empty or unreadable");
		free(buf);
		buf = NULL;
	} else {
		buf[n] = '\0';
	}
	if (f)
		fclose(f);
	return buf;
}

/* --basic-auth FILE: "user:password" on its first line. */
static int read_auth(const char *path, char *why, size_t len)
{
	char *text = read_small_file(path, why, len), *colon;

	if (!text)
		return -1;
	text[strcspn(text, "\r\n")] = '\0';
	colon = strchr(text, ':');
	if (!colon || colon == text || !colon[1]) {
		snprintf(why, len, "%s: give one line, user:password", path);
		free(text);
		return -1;
	}
	*colon = '\0';
	env.auth_user = text;
	env.auth_pass = colon + 1;
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
	case OPT_TLS_CERT:
	case OPT_TLS_KEY:
		*(key == OPT_TLS_CERT ? &env.tls_cert : &env.tls_key) =
			read_small_file(arg, why, sizeof(why));
		if (!*(key == OPT_TLS_CERT ? &env.tls_cert : &env.tls_key))
			argp_error(state, "%s", why);
		break;
	case OPT_AUTH:
		if (read_auth(arg, why, sizeof(why)))
			argp_error(state, "%s", why);
		break;
	case OPT_PHASES:
		env.phases = true;
		break;
	case OPT_NO_DASHBOARD:
		env.no_dashboard = true;
		break;
	case ARGP_KEY_END:
		if (!env.tls_cert != !env.tls_key)
			argp_error(state, "--tls-cert and --tls-key go together");
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

/* Equal strings, in a time that does not depend on where they differ. */
static bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;

	for (size_t i = 0; i < la; i++)
		diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return !diff;
}

static bool authorized(struct MHD_Connection *c)
{
	char *pass = NULL, *user = MHD_basic_auth_get_username_password(c, &pass);
	bool ok = user && pass && same_secret(user, env.auth_user) &
				  same_secret(pass, env.auth_pass);

	MHD_free(user);
	MHD_free(pass);
	return ok;
}

static enum MHD_Result ask_auth(struct MHD_Connection *c)
{
	static const char body[] = "authentication required\n";
	struct MHD_Response *r = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body,
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	ret = MHD_queue_basic_auth_fail_response(c, "httpdtrace exporter", r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **state)
{
	static const char text[] = "text/plain; charset=utf-8";
	static int first;
	const char *accept;
	bool openmetrics;
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
	if (env.auth_user && !authorized(c))
		return ask_auth(c);
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text, "only GET and HEAD\n", 18,
			     MHD_RESPMEM_PERSISTENT);
	if (!env.no_dashboard) {
		bool served;
		enum MHD_Result ret = dash_serve(c, url, &served);

		if (served)
			return ret;
	} else if (!strcmp(url, "/")) {
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", (void *)index_page,
			     sizeof(index_page) - 1, MHD_RESPMEM_PERSISTENT);
	}
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, text, "not found: see /metrics\n", 24,
			     MHD_RESPMEM_PERSISTENT);
	accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	openmetrics = accept && strstr(accept, "application/openmetrics-text");
	pthread_mutex_lock(&scrape_lock);
	body = exporter_metrics(skel, &config, openmetrics, &len);
	pthread_mutex_unlock(&scrape_lock);
	if (!body)
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, text, "cannot read the maps\n", 21,
			     MHD_RESPMEM_PERSISTENT);
	return reply(c, MHD_HTTP_OK, openmetrics ?
		     "application/openmetrics-text; version=1.0.0; charset=utf-8" :
		     "text/plain; version=0.0.4; charset=utf-8", body, len, MHD_RESPMEM_MUST_FREE);
}

/* A thread per connection: a dashboard's stream waits in its own. */
#define DAEMON_FLAGS                                                           \
	(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG)

static bool loopback(void)
{
	if (listen_addr.ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&listen_addr)->sin6_addr);
	return (ntohl(((struct sockaddr_in *)&listen_addr)->sin_addr.s_addr) >> 24) == 127;
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
	err = TRACE_OPEN(&t, &argp, argc, argv, skel, exporter);
	if (err)
		goto cleanup;
	/* request-phase fires 3 to 6 times a request: only when asked */
	bpf_program__set_autoload(skel->progs.request__phase, env.phases);
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
	config = (struct exporter_config){ .module = t.module, .max_series = env.max_series,
					   .nroutes = env.nroutes, .route_names = env.route_names,
					   .phases = env.phases };
	t.end_hint = "serving metrics; Ctrl-C to end";
	err = trace_attach(&t);
	if (err)
		goto cleanup;
	if (!env.no_dashboard)
		dash_init(skel, &config);
	if (env.tls_cert)
		d = MHD_start_daemon(DAEMON_FLAGS | MHD_USE_TLS, 0, NULL, NULL, on_request, NULL,
				     MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, 64U,
				     MHD_OPTION_CONNECTION_TIMEOUT, 10U,
				     MHD_OPTION_HTTPS_MEM_CERT, env.tls_cert,
				     MHD_OPTION_HTTPS_MEM_KEY, env.tls_key, MHD_OPTION_END);
	else
		d = MHD_start_daemon(DAEMON_FLAGS, 0, NULL, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
				     MHD_OPTION_CONNECTION_LIMIT, 64U, MHD_OPTION_CONNECTION_TIMEOUT,
				     10U, MHD_OPTION_END);
	if (!d) {
		err = -EIO;
		trace_err("cannot start the HTTP%s server on %s%s", env.tls_cert ? "S" : "",
			  env.listen, env.tls_cert ? ": are --tls-cert and --tls-key a PEM "
			  "certificate and its key?" : "");
		goto cleanup;
	}
	fd = -1; /* the daemon's now */
	fprintf(stderr, "httpdtrace: metrics at http%s://%s/metrics\n", env.tls_cert ? "s" : "",
		env.listen);
	if (!env.no_dashboard)
		fprintf(stderr, "httpdtrace: dashboard at http%s://%s/\n", env.tls_cert ? "s" : "",
			env.listen);
	if (!loopback() && (!env.tls_cert || !env.auth_user))
		trace_warn("%s is not a loopback address, and the metrics are served %s: give "
			   "--tls-cert, --tls-key and --basic-auth, or keep it behind a firewall",
			   env.listen, !env.tls_cert && !env.auth_user ? "in clear text to anyone" :
			   !env.tls_cert ? "in clear text" : "to anyone");
	while (!trace_exiting) {
		trace_sleep_ms(TRACE_POLL_MS * 2);
		if (!env.no_dashboard)
			dash_tick(trace_now_ns());
	}

cleanup:
	if (d) {
		dash_close();
		MHD_stop_daemon(d);
	}
	if (fd >= 0)
		close(fd);
	trace_close(&t);
	exporter_bpf__destroy(skel);
	free(env.tls_cert);
	free(env.tls_key);
	free(env.auth_user); /* auth_pass is in the same buffer */
	return trace_exit_status(err);
}
