/*
 * report.c - `httpdtrace top`'s printed forms (report.h): the text
 * lines shared by the full screen and -b, the -b report made of them, and
 * the -j JSON object.
 */
#include <stdio.h>
#include <string.h>
#include "lib/fmt.h"
#include "lib/hist.h"
#include "report.h"

static double per_s(unsigned long long v, double s)
{
	return s > 0 ? v / s : 0;
}

/* ---------------------------------------------------------------------------
 * Text lines, shared by the screen and -b
 * ------------------------------------------------------------------------- */
const char top_report_window_head[] =
	"WINDOW           REQS    REQ/S  BYTES/S      P50      P95      P99";
const char top_report_flight_head[] =
	"     AGE     PID CLIENT                          METHOD   URI";

void top_report_title(char *b, size_t len, const struct top_table *t, const struct top_view *v,
		      const struct top_frame *f, bool paused)
{
	unsigned long long up = (f->now_ns - t->start_ns) / TOP_NS_PER_S;
	char filter[160] = "";

	if (v->filter_text[0])
		snprintf(filter, sizeof(filter), ", filter %s", v->filter_text);
	snprintf(b, len, "httpdtrace top - up %llu:%02llu:%02llu, every %.1fs, by %s, sort %s%s%s",
		 up / 3600, up / 60 % 60, up % 60, f->interval_ms / 1e3, top_group_names[v->group],
		 top_sort_names[v->sort], filter, paused ? " [paused]" : "");
}

void top_report_status(char *b, size_t len, const struct top_table *t)
{
	const __u64 *c = t->totals.classes;

	snprintf(b, len,
		 "requests %llu: 1xx %llu, 2xx %llu, 3xx %llu, 4xx %llu, 5xx %llu, other %llu; "
		 "in flight %zu",
		 (unsigned long long)t->totals.lat.count, (unsigned long long)c[1],
		 (unsigned long long)c[2], (unsigned long long)c[3], (unsigned long long)c[4],
		 (unsigned long long)c[5], (unsigned long long)c[0], t->nin_flight);
}

void top_report_window(char *b, size_t len, const struct top_window *w)
{
	char rate[16], bytes[16], p[3][16];

	fmt_usec(p[0], sizeof(p[0]), hist_percentile(&w->lat, 50));
	fmt_usec(p[1], sizeof(p[1]), hist_percentile(&w->lat, 95));
	fmt_usec(p[2], sizeof(p[2]), hist_percentile(&w->lat, 99));
	snprintf(b, len, "%-14s %6llu %8s %8s %8s %8s %8s", w->name, w->requests,
		 fmt_si(rate, sizeof(rate), per_s(w->requests, w->seconds)),
		 fmt_si(bytes, sizeof(bytes), per_s(w->bytes_out, w->seconds)),
		 w->lat.count ? p[0] : "-", w->lat.count ? p[1] : "-", w->lat.count ? p[2] : "-");
}

void top_report_counters(char *b, size_t len, const struct top_table *t,
			 const struct top_frame *f)
{
	snprintf(b, len, "keys %zu/%u, overflow %llu, in-flight overflow %llu, gone %llu, "
		 "dropped %llu", t->nentries, t->max_keys, (unsigned long long)t->totals.overflow,
		 (unsigned long long)t->totals.inflight_overflow, t->gone, f->drops);
}

void top_report_row_head(char *b, size_t len, enum top_group g)
{
	char name[16];

	snprintf(name, sizeof(name), "%s", top_group_names[g]);
	for (char *p = name; *p; p++)
		*p = (char)(*p - 'a' + 'A');
	snprintf(b, len, "%8s %7s %7s %7s %7s %5s %s", "REQS", "REQ/S", "BYTES/S", "AVG", "P95",
		 "5XX", name);
}

void top_report_row(char *b, size_t len, const struct top_row *r, double seconds)
{
	char rate[16], bytes[16], avg[16], p95[16], key[FMT_ESC_SIZE(TOP_KEY_LEN)];

	fmt_esc(key, sizeof(key), r->key); /* a client's bytes must not drive the terminal */
	snprintf(b, len, "%8llu %7s %7s %7s %7s %5llu %s", r->requests,
		 fmt_si(rate, sizeof(rate), per_s(r->interval_requests, seconds)),
		 fmt_si(bytes, sizeof(bytes), per_s(r->interval_bytes_out, seconds)),
		 fmt_usec(avg, sizeof(avg), top_view_row_avg(r)),
		 fmt_usec(p95, sizeof(p95), hist_percentile(&r->lat, 95)), r->status_5xx, key);
}

void top_report_flight(char *b, size_t len, const struct top_request *q, unsigned long long now)
{
	char age[16], uri[FMT_ESC_SIZE(STR_TOP_URI)], client[FMT_ESC_SIZE(STR_IP)];
	char method[FMT_ESC_SIZE(STR_METHOD)];
	unsigned long long ns = now > q->flight.start_ns ? now - q->flight.start_ns : 0;

	fmt_esc(uri, sizeof(uri), q->flight.uri);
	fmt_esc(client, sizeof(client), fmt_or_dash(q->flight.client));
	fmt_esc(method, sizeof(method), fmt_or_dash(q->flight.method));
	snprintf(b, len, "%8s %7u %-31s %-8s %s", fmt_usec(age, sizeof(age), ns / 1000),
		 q->flight.pid, client, method, uri);
}

void top_report_scope(char *b, size_t len, const struct top_view *v)
{
	char value[FMT_ESC_SIZE(TOP_KEY_LEN)];
	size_t n = (size_t)snprintf(b, len, "drill-down:");

	for (int i = 0; i < v->nscopes && n < len; i++)
		n += (size_t)snprintf(b + n, len - n, " %s %s >", top_group_names[v->scopes[i].field],
				      fmt_esc(value, sizeof(value), v->scopes[i].value));
	if (n < len)
		snprintf(b + n, len - n, " (Backspace: back)");
}

/* ---------------------------------------------------------------------------
 * -b and -j reports
 * ------------------------------------------------------------------------- */
void top_report_text(FILE *out, const struct top_table *t, const struct top_view *v,
		     const struct top_frame *f)
{
	char b[TOP_LINE_LEN];
	double seconds = top_table_interval_s(t);

	top_report_title(b, sizeof(b), t, v, f, false);
	fprintf(out, "%s\n", b);
	top_report_status(b, sizeof(b), t);
	fprintf(out, "%s\n", b);
	fprintf(out, "%s\n", top_report_window_head);
	for (int i = 0; i < 2; i++) {
		top_report_window(b, sizeof(b), &f->windows[i]);
		fprintf(out, "%s\n", b);
	}
	top_report_counters(b, sizeof(b), t, f);
	fprintf(out, "%s\n\n", b);
	top_report_row_head(b, sizeof(b), v->group);
	fprintf(out, "%s\n", b);
	for (size_t i = 0; i < top_view_limit(v, v->nrows); i++) {
		top_report_row(b, sizeof(b), &v->rows[i], seconds);
		fprintf(out, "%s\n", b);
	}
	if (t->nin_flight) {
		fprintf(out, "\nIN FLIGHT\n%s\n", top_report_flight_head);
		for (size_t i = 0; i < top_view_limit(v, t->nin_flight); i++) {
			top_report_flight(b, sizeof(b), &t->in_flight[i], f->now_ns);
			fprintf(out, "%s\n", b);
		}
	}
	fprintf(out, "\n");
}

static void json_window(FILE *out, const struct top_window *w)
{
	fprintf(out, "{\"name\":");
	fmt_json_str(out, w->name);
	fprintf(out, ",\"requests\":%llu,\"bytes_out\":%llu,\"seconds\":%.3f,\"p50_us\":%llu,"
		"\"p95_us\":%llu,\"p99_us\":%llu,\"max_us\":%llu}",
		w->requests, w->bytes_out, w->seconds, hist_percentile(&w->lat, 50),
		hist_percentile(&w->lat, 95), hist_percentile(&w->lat, 99),
		w->lat.count ? w->lat.max : 0);
}

static void json_in_flight(FILE *out, const struct top_request *q, unsigned long long now)
{
	fprintf(out, "{\"id\":%llu,\"age_us\":%llu,\"pid\":%u,\"tid\":%u,\"conn_id\":%llu,"
		"\"client\":", q->id, now > q->flight.start_ns ? (now - q->flight.start_ns) / 1000 : 0,
		q->flight.pid, q->flight.tid, (unsigned long long)q->flight.conn_id);
	fmt_json_str(out, q->flight.client);
	fprintf(out, ",\"method\":");
	fmt_json_str(out, q->flight.method);
	fprintf(out, ",\"uri\":");
	fmt_json_str(out, q->flight.uri);
	fprintf(out, "}");
}

void top_report_json(FILE *out, const struct top_table *t, const struct top_view *v,
		     const struct top_frame *f)
{
	const __u64 *c = t->totals.classes;
	double s = top_table_interval_s(t);

	fprintf(out, "{\"type\":\"top\",\"time\":%.3f,\"interval\":%.3f,\"requests\":%llu,"
		"\"bytes_out\":%llu,\"bytes_in\":%llu,\"status\":{\"1xx\":%llu,\"2xx\":%llu,"
		"\"3xx\":%llu,\"4xx\":%llu,\"5xx\":%llu,\"other\":%llu},\"windows\":[",
		(double)(f->now_ns - t->start_ns) / TOP_NS_PER_S, s,
		(unsigned long long)t->totals.lat.count, (unsigned long long)t->totals.bytes_out,
		(unsigned long long)t->totals.bytes_in, (unsigned long long)c[1],
		(unsigned long long)c[2], (unsigned long long)c[3], (unsigned long long)c[4],
		(unsigned long long)c[5], (unsigned long long)c[0]);
	json_window(out, &f->windows[0]);
	fprintf(out, ",");
	json_window(out, &f->windows[1]);
	fprintf(out, "],\"keys\":%zu,\"max_keys\":%u,\"overflow\":%llu,\"inflight_overflow\":%llu,"
		"\"gone\":%llu,\"dropped\":%llu,\"group\":\"%s\",\"sort\":\"%s\",\"filter\":",
		t->nentries, t->max_keys, (unsigned long long)t->totals.overflow,
		(unsigned long long)t->totals.inflight_overflow, t->gone, f->drops,
		top_group_names[v->group], top_sort_names[v->sort]);
	if (v->filter_text[0])
		fmt_json_str(out, v->filter_text);
	else
		fprintf(out, "null");
	fprintf(out, ",\"rows\":[");
	for (size_t i = 0; i < top_view_limit(v, v->nrows); i++) {
		const struct top_row *r = &v->rows[i];

		fprintf(out, "%s{\"key\":", i ? "," : "");
		fmt_json_str(out, r->key);
		fprintf(out, ",\"requests\":%llu,\"req_s\":%.3f,\"bytes_out\":%llu,\"bytes_s\":%.3f,"
			"\"avg_us\":%llu,\"p95_us\":%llu,\"5xx\":%llu}",
			r->requests, per_s(r->interval_requests, s), r->bytes_out,
			per_s(r->interval_bytes_out, s), top_view_row_avg(r),
			hist_percentile(&r->lat, 95), r->status_5xx);
	}
	fprintf(out, "],\"inflight\":[");
	for (size_t i = 0; i < top_view_limit(v, t->nin_flight); i++) {
		fprintf(out, "%s", i ? "," : "");
		json_in_flight(out, &t->in_flight[i], f->now_ns);
	}
	fprintf(out, "]}\n");
}
