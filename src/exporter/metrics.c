/*
 * metrics.c - what `httpdtrace exporter` serves at each scrape
 * (metrics.h): the BPF maps of exporter.bpf.c read and summed over
 * the CPUs, written in Prometheus' text format (exposition.c).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "exporter.h"
#include "exporter.skel.h"
#include "metrics.h"
#include "read.h"
#include "exposition.h"
#include "httpdtrace.h"
#include "mod_dtprovider.h"
#include "lib/proc.h"
#include "lib/trace.h"

static const unsigned long long dur_bounds[EXP_DUR_BUCKETS] = EXP_DUR_BOUNDS_US;
static const unsigned long long size_bounds[EXP_SIZE_BUCKETS] = EXP_SIZE_BOUNDS;
static const unsigned long long conn_dur_bounds[EXP_CONN_DUR_BUCKETS] = EXP_CONN_DUR_BOUNDS_US;
static const unsigned long long conn_reqs_bounds[EXP_CONN_REQS_BUCKETS] = EXP_CONN_REQS_BOUNDS;
static const char *const method_names[EXP_METHODS] = EXP_METHOD_NAMES;
static const char *const protocol_names[EXP_PROTOCOLS] = EXP_PROTOCOL_NAMES;
static const char *const reason_names[EXP_REASONS] = {
	"unknown", "client", "timeout", "server", "aborted", "shutdown",
};

static struct exporter_bpf *skel;
static const struct exporter_config *cfg;

/* A trace-id's 16 bytes as 32 lowercase hex digits in out; "" when all
 * zero (none). Returns out. */
static const char *trace_hex(char out[33], const __u8 id[16])
{
	static const char digits[] = "0123456789abcdef";
	__u8 any = 0;

	for (int i = 0; i < 16; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 15];
		any |= id[i];
	}
	out[any ? 32 : 0] = '\0';
	return out;
}

static void series_labels(char *buf, size_t len, const struct exp_series *s)
{
	struct expo o = { 0 };

	const char *route = s->key.route && s->key.route <= cfg->nroutes ?
				    cfg->route_names[s->key.route - 1] : "_other";
	int n;

	if (s->other) {
		n = snprintf(buf, len, "http_request_method=\"_OTHER\",http_response_status_code="
			     "\"_other\",network_protocol_version=\"_other\",server_address=\"_other\"");
	} else {
		expo_label(&o, s->key.vhost, sizeof(s->key.vhost));
		n = snprintf(buf, len, "http_request_method=\"%s\",http_response_status_code=\"%u\","
			     "network_protocol_version=\"%s\",server_address=\"%s\"",
			     method_names[s->key.method < EXP_METHODS ? s->key.method : 0],
			     s->key.status,
			     protocol_names[s->key.protocol < EXP_PROTOCOLS ? s->key.protocol : 0],
			     o.buf ? o.buf : "");
		free(o.buf);
	}
	/* routes are checked to need no escaping (read_routes) */
	if (cfg->nroutes && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ",http_route=\"%s\"",
			 s->other ? "_other" : route);
}

static void write_requests(struct expo *o, struct exp_series *s, int n)
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
		expo_head(o, hists[h].name, "histogram", hists[h].help);
		for (int i = 0; i < n; i++) {
			const char *v = (const char *)&s[i].val;
			struct expo_exemplar ex[EXP_DUR_BUCKETS + 1];
			char trace[EXP_DUR_BUCKETS + 1][33];

			/* exemplars on the duration buckets: the latest request in each */
			for (int b = 0; b <= EXP_DUR_BUCKETS && h == 0; b++) {
				ex[b].request_id = s[i].val.exemplar[b].id;
				ex[b].value = (double)s[i].val.exemplar[b].latency_us / 1e6;
				ex[b].trace_id = trace_hex(trace[b], s[i].val.exemplar[b].trace_id);
			}
			series_labels(labels, sizeof(labels), &s[i]);
			expo_hist(o, hists[h].name, labels, hists[h].bounds,
				  (const unsigned long long *)(v + hists[h].buckets), hists[h].nb,
				  hists[h].div, *(const __u64 *)(v + hists[h].sum), s[i].val.count,
				  h == 0 ? ex : NULL);
		}
	}
}

static void write_connections(struct expo *o, const struct exp_totals *x)
{
	unsigned long long closed = 0;

	expo_head(o, "httpd_connections_opened_total", "counter",
		  "Client connections accepted (since the exporter started).");
	expo_printf(o, "httpd_connections_opened_total %llu\n",
		    (unsigned long long)x->conns_opened);
	expo_head(o, "httpd_connections_closed_total", "counter",
		  "Client connections closed, by why (of those opened since the exporter started).");
	for (int r = 0; r < EXP_REASONS; r++) {
		closed += x->conns_closed[r];
		expo_printf(o, "httpd_connections_closed_total{reason=\"%s\"} %llu\n",
			    reason_names[r], (unsigned long long)x->conns_closed[r]);
	}
	expo_head(o, "httpd_connections_open", "gauge",
		  "Client connections open now (of those opened since the exporter started).");
	expo_printf(o, "httpd_connections_open %llu\n",
		    (unsigned long long)x->conns_opened - closed);
	expo_head(o, "httpd_connection_duration_seconds", "histogram",
		  "Duration of closed client connections.");
	expo_hist(o, "httpd_connection_duration_seconds", "", conn_dur_bounds,
		  (const unsigned long long *)x->conn_duration, EXP_CONN_DUR_BUCKETS, 1e6,
		  x->conn_duration_us, closed, NULL);
	expo_head(o, "httpd_connection_requests", "histogram",
		  "Requests served on each closed client connection.");
	expo_hist(o, "httpd_connection_requests", "", conn_reqs_bounds,
		  (const unsigned long long *)x->conn_requests_hist, EXP_CONN_REQS_BUCKETS, 1,
		  x->conn_requests, closed, NULL);
}

static void write_phases(struct expo *o, const struct exp_totals *x)
{
	static const char *const names[PHASES_N] = PHASES_NAMES;
	static bool said;
	char labels[32];

	expo_head(o, "httpd_request_phase_duration_seconds", "histogram",
		  "Time requests spent in each processing phase (access, type and handler need "
		  "DTraceProviderPhases On).");
	for (int p = 0; p < PHASES_N; p++) {
		snprintf(labels, sizeof(labels), "phase=\"%s\"", names[p]);
		expo_hist(o, "httpd_request_phase_duration_seconds", labels, dur_bounds,
			  (const unsigned long long *)x->phase[p], EXP_DUR_BUCKETS, 1e6,
			  x->phase_us[p], x->phase_count[p], NULL);
	}
	if (!said && x->phase_count[HTTPD_PHASE_TRANSLATE] &&
	    !(x->phase_count[HTTPD_PHASE_ACCESS] + x->phase_count[HTTPD_PHASE_TYPE] +
	      x->phase_count[HTTPD_PHASE_HANDLER])) {
		said = true;
		trace_warn("no access, type or handler phase seen: the module registers those hooks "
			   "only with `DTraceProviderPhases On`; until then translate lasts through "
			   "the handler");
	}
}

/* httpd_info: one series per Apache parent that maps the module (found
 * at most every EXP_APACHES_RESCAN_NS; in between, those found while they
 * live). */
static void write_info(struct expo *o, unsigned long long now)
{
	struct exp_apache a[EXP_APACHES_MAX];
	int n = exp_apaches(cfg->module, now, a);

	expo_head(o, "httpd_info", "gauge", "Apache servers that load the traced module.");
	for (int i = 0; i < n; i++) {
		expo_printf(o, "httpd_info{pid=\"%d\",version=\"", (int)a[i].pid);
		expo_label(o, a[i].version, sizeof(a[i].version));
		expo_printf(o, "\",mpm=\"");
		expo_label(o, a[i].mpm, sizeof(a[i].mpm));
		expo_printf(o, "\",module=\"");
		expo_label(o, cfg->module, strlen(cfg->module));
		expo_printf(o, "\"} 1\n");
	}
}

static double last_scrape_s;

char *exporter_metrics(struct exporter_bpf *s, const struct exporter_config *c, bool openmetrics,
		       size_t *len)
{
	unsigned long long begin = trace_now_ns(), oldest_ns, active;
	struct exp_series *series = NULL;
	struct exp_totals x;
	struct expo o = { .openmetrics = openmetrics };
	int n;

	skel = s;
	cfg = c;
	n = exp_read_series(skel, &series);
	if (n < 0 || exp_read_totals(skel, &x)) {
		free(series);
		trace_warn("cannot read the BPF maps for a scrape: %s", strerror(n < 0 ? -n : errno));
		return NULL;
	}
	write_requests(&o, series, n);
	free(series);
	active = exp_inflight(skel, &oldest_ns, NULL, NULL);
	expo_head(&o, "http_server_active_requests", "gauge",
		 "Requests being served now (of those begun since the exporter started).");
	expo_printf(&o, "http_server_active_requests %llu\n", active);
	expo_head(&o, "httpd_oldest_request_age_seconds", "gauge",
		 "Age of the oldest request being served now (0: none).");
	expo_printf(&o, "httpd_oldest_request_age_seconds %.6f\n",
		   oldest_ns ? (double)(begin - oldest_ns) / 1e9 : 0.0);
	write_connections(&o, &x);
	if (cfg->phases)
		write_phases(&o, &x);
	write_info(&o, begin);
	expo_head(&o, "httpdtrace_exporter_requests_untracked_total", "counter",
		 "Requests begun while the in-flight table had no room near their slot: not in "
		 "http_server_active_requests (they are counted when done).");
	expo_printf(&o, "httpdtrace_exporter_requests_untracked_total %llu\n",
		   (unsigned long long)x.untracked);
	expo_head(&o, "httpdtrace_exporter_requests_folded_total", "counter",
		 "Requests counted in the _other series: their label set was past --max-series.");
	expo_printf(&o, "httpdtrace_exporter_requests_folded_total %llu\n",
		   (unsigned long long)x.folded);
	expo_head(&o, "httpdtrace_exporter_max_series", "gauge",
		 "The --max-series limit of request label sets.");
	expo_printf(&o, "httpdtrace_exporter_max_series %llu\n", cfg->max_series);
	expo_head(&o, "httpdtrace_exporter_scrape_duration_seconds", "gauge",
		 "How long the previous scrape took to build.");
	expo_printf(&o, "httpdtrace_exporter_scrape_duration_seconds %.6f\n", last_scrape_s);
	expo_head(&o, "httpdtrace_exporter_build_info", "gauge", "httpdtrace's version.");
	expo_printf(&o, "httpdtrace_exporter_build_info{version=\"%s\"} 1\n", HTTPDTRACE_VERSION);
	expo_end(&o);
	last_scrape_s = (double)(trace_now_ns() - begin) / 1e9;
	if (o.failed) {
		free(o.buf);
		trace_warn("out of memory building a scrape");
		return NULL;
	}
	*len = o.len;
	return o.buf;
}
