/*
 * exporter_metrics.c - what `httpdtrace exporter` serves at each scrape
 * (exporter_metrics.h): the BPF maps of exporter.bpf.c read and summed over
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
#include "exporter_metrics.h"
#include "exposition.h"
#include "httpdtrace.h"
#include "mod_dtprovider.h"
#include "proc.h"
#include "trace.h"

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
static const struct exporter_config *cfg;
static int ncpus;

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

/* Add one CPU's counters to sum; of the exemplars, keep the newest. */
static void val_add(struct exp_req_val *sum, const struct exp_req_val *v)
{
	const size_t ex = offsetof(struct exp_req_val, exemplar);
	const size_t ex_end = ex + sizeof(v->exemplar);
	const char *src = (const char *)v;
	char *dst = (char *)sum;

	for (size_t off = 0; off < sizeof(*v); off += sizeof(__u64))
		if (off < ex || off >= ex_end)
			*(__u64 *)(dst + off) += *(const __u64 *)(src + off);
	for (int b = 0; b <= EXP_DUR_BUCKETS; b++)
		if (v->exemplar[b].ts_ns > sum->exemplar[b].ts_ns)
			sum->exemplar[b] = v->exemplar[b];
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

static void write_requests(struct expo *o, struct series *s, int n)
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

/* Requests in flight, and the start of the oldest (0: none). */
static unsigned long long inflight(unsigned long long *oldest_ns)
{
	struct exp_inflight *slots = skel->bss->inflight;
	unsigned long long n = 0;
	__u64 start, id;
	__u32 tgid;

	*oldest_ns = 0;
	for (unsigned int i = 0; i < EXP_INFLIGHT_SLOTS; i++) {
		id = __atomic_load_n(&slots[i].id, __ATOMIC_ACQUIRE);
		if (!id)
			continue;
		tgid = __atomic_load_n(&slots[i].tgid, __ATOMIC_RELAXED);
		start = __atomic_load_n(&slots[i].start_ns, __ATOMIC_RELAXED);
		/* its process died mid-request (start_ns set: the slot is not being
		 * taken now): it will never finish; free the slot if still its */
		if (start && tgid && !proc_exists((pid_t)tgid)) {
			__atomic_compare_exchange_n(&slots[i].id, &id, 0, false, __ATOMIC_RELEASE,
						    __ATOMIC_RELAXED);
			continue;
		}
		n++;
		if (start /* 0: being taken now */ && (!*oldest_ns || start < *oldest_ns))
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
	static const char *const names[PHASES_N] = {
		"read", "translate", "access", "type", "handler", "log",
	};
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

/* httpd_info: one series per Apache parent that maps the module. Finding
 * them reads every process's maps and each parent's binary (its version):
 * done at most every INFO_RESCAN_NS, not at every scrape; in between, the
 * servers found are shown while they live. */
#define INFO_RESCAN_NS 10000000000ULL
#define INFO_MAX 64

static struct apache_info {
	pid_t pid;
	char version[PROC_VERSION_LEN], mpm[64];
} infos[INFO_MAX];
static int ninfos;
static unsigned long long infos_ns; /* when they were found; 0: never */

static int info_find(pid_t pid, void *ctx)
{
	struct apache_info *a = &infos[ninfos];

	(void)ctx;
	if (!proc_maps_file(pid, cfg->module) || proc_maps_file(proc_ppid(pid), cfg->module))
		return 0;
	a->pid = pid;
	proc_apache_version(pid, a->version, sizeof(a->version));
	proc_apache_mpm(pid, a->mpm, sizeof(a->mpm));
	return ++ninfos == INFO_MAX; /* full: stop */
}

static void write_info(struct expo *o, unsigned long long now)
{
	if (!infos_ns || now - infos_ns >= INFO_RESCAN_NS) {
		ninfos = 0;
		proc_each(info_find, NULL);
		infos_ns = now;
	}
	expo_head(o, "httpd_info", "gauge", "Apache servers that load the traced module.");
	for (int i = 0; i < ninfos; i++) {
		if (!proc_exists(infos[i].pid))
			continue;
		expo_printf(o, "httpd_info{pid=\"%d\",version=\"", (int)infos[i].pid);
		expo_label(o, infos[i].version, sizeof(infos[i].version));
		expo_printf(o, "\",mpm=\"");
		expo_label(o, infos[i].mpm, sizeof(infos[i].mpm));
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
	struct series *series = NULL;
	struct exp_totals x;
	struct expo o = { .openmetrics = openmetrics };
	int n;

	skel = s;
	cfg = c;
	ncpus = libbpf_num_possible_cpus();
	n = ncpus > 0 ? read_series(&series) : -EINVAL;

	if (n < 0 || read_totals(&x)) {
		free(series);
		trace_warn("cannot read the BPF maps for a scrape: %s", strerror(n < 0 ? -n : errno));
		return NULL;
	}
	write_requests(&o, series, n);
	free(series);
	active = inflight(&oldest_ns);
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
