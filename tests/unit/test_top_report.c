/*
 * test_top_report.c - `httpdtrace top`'s printed forms (src/top/report.c):
 * each text line the screen and -b share, the -b report and the -j object,
 * over top_fixture()'s table (test_top_view.c).
 */
#include <stdlib.h>
#include "top/report.h"
#include "unit.h"

#define START 1000000000000ULL
#define SECOND 1000000000ULL

/* The fixture, 1:02:05 after start: totals of two requests (500 µs, a 2xx;
 * 3000 µs, a 5xx), one request in flight for 1.5 s, counters. */
static void setup(struct top_table *t, struct top_view *v, struct top_frame *f)
{
	top_fixture(t, v);
	hist_add(&t->totals.lat, 500);
	hist_add(&t->totals.lat, 3000);
	t->totals.bytes_out = 11500;
	t->totals.bytes_in = 77;
	t->totals.classes[2] = 1;
	t->totals.classes[5] = 1;
	t->totals.overflow = 8;
	t->totals.inflight_overflow = 1;
	t->gone = 2;
	memset(f, 0, sizeof(*f));
	f->now_ns = START + 3725 * SECOND;
	f->drops = 5;
	f->interval_ms = 2000;
	t->in_flight[0].id = 77;
	t->in_flight[0].flight.start_ns = f->now_ns - 3 * SECOND / 2;
	t->in_flight[0].flight.conn_id = 9;
	t->in_flight[0].flight.pid = 1234;
	t->in_flight[0].flight.tid = 1235;
	snprintf(t->in_flight[0].flight.client, sizeof(t->in_flight[0].flight.client), "::1");
	snprintf(t->in_flight[0].flight.method, sizeof(t->in_flight[0].flight.method), "GET");
	snprintf(t->in_flight[0].flight.uri, sizeof(t->in_flight[0].flight.uri), "/sleep.lua");
	t->nin_flight = 1;
	top_table_windows(t, f->now_ns, f->windows);
}

static void test_lines(void)
{
	struct top_table t;
	struct top_view v;
	struct top_frame f;
	struct top_window empty = { "last 3 req", 0, 0, 5.0, { { 0 }, 0, 0, 0 } };
	struct top_row r;
	struct top_request q;
	char b[TOP_LINE_LEN];

	setup(&t, &v, &f);
	top_report_title(b, sizeof(b), &t, &v, &f, false);
	CHECK_STR(b, "httpdtrace top - up 1:02:05, every 2.0s, by uri, sort requests");
	top_report_status(b, sizeof(b), &t);
	CHECK_STR(b, "requests 2: 1xx 0, 2xx 1, 3xx 0, 4xx 0, 5xx 1, other 0; in flight 1");
	top_report_window(b, sizeof(b), &f.windows[0]);
	CHECK_STR(b, "since start         2      0.0      3.1    511us   3.00ms   3.00ms");
	top_report_window(b, sizeof(b), &empty);
	CHECK_STR(b, "last 3 req          0      0.0      0.0        -        -        -");
	top_report_counters(b, sizeof(b), &t, &f);
	CHECK_STR(b, "keys 4/16, overflow 8, in-flight overflow 1, gone 2, dropped 5");
	top_report_row_head(b, sizeof(b), TOP_GROUP_CLIENT);
	CHECK_STR(b, "    REQS   REQ/S BYTES/S     AVG     P95   5XX CLIENT");
	top_report_row(b, sizeof(b), &v.rows[1], top_table_interval_s(&t));
	CHECK_STR(b, "       3     1.5   2.00K  1.00ms  2.80ms     3 /c");
	top_report_flight(b, sizeof(b), &t.in_flight[0], f.now_ns);
	CHECK_STR(b, "   1.50s    1234 ::1                             GET      /sleep.lua");

	/* what a client sent is escaped; an empty client or method is "-" */
	r = v.rows[1];
	snprintf(r.key, sizeof(r.key), "/\x1b[2J");
	top_report_row(b, sizeof(b), &r, 0);
	CHECK_STR(b, "       3     0.0     0.0  1.00ms  2.80ms     3 /\\x1b[2J");
	q = t.in_flight[0];
	q.flight.client[0] = q.flight.method[0] = 0;
	top_report_flight(b, sizeof(b), &q, q.flight.start_ns - 1);
	CHECK_STR(b, "     0us    1234 -                               -        /sleep.lua");

	CHECK(top_view_set_filter(&v, "^/a", b, sizeof(b)) == 0);
	v.group = TOP_GROUP_CLIENT;
	v.sort = TOP_SORT_P95;
	top_report_title(b, sizeof(b), &t, &v, &f, true);
	CHECK_STR(b, "httpdtrace top - up 1:02:05, every 2.0s, by client, sort p95, filter ^/a "
		     "[paused]");
	v.nscopes = 2;
	v.scopes[0].field = TOP_GROUP_URI;
	snprintf(v.scopes[0].value, sizeof(v.scopes[0].value), "/c");
	v.scopes[1].field = TOP_GROUP_CLIENT;
	snprintf(v.scopes[1].value, sizeof(v.scopes[1].value), "10.0.0.2\x7f");
	top_report_scope(b, sizeof(b), &v);
	CHECK_STR(b, "drill-down: uri /c > client 10.0.0.2\\x7f > (Backspace: back)");
	top_view_free(&v);
	top_table_free(&t);
}

/* What print(out, t, v, f) writes. */
static char *printed(void (*print)(FILE *, const struct top_table *, const struct top_view *,
				   const struct top_frame *),
		     const struct top_table *t, const struct top_view *v, const struct top_frame *f)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	print(out, t, v, f);
	fclose(out);
	return buf;
}

static void test_reports(void)
{
	struct top_table t;
	struct top_view v;
	struct top_frame f;
	char *s, err[160];

	setup(&t, &v, &f);
	v.limit = 2; /* -r 2 */
	s = printed(top_report_text, &t, &v, &f);
	CHECK_STR(s,
		  "httpdtrace top - up 1:02:05, every 2.0s, by uri, sort requests\n"
		  "requests 2: 1xx 0, 2xx 1, 3xx 0, 4xx 0, 5xx 1, other 0; in flight 1\n"
		  "WINDOW           REQS    REQ/S  BYTES/S      P50      P95      P99\n"
		  "since start         2      0.0      3.1    511us   3.00ms   3.00ms\n"
		  "last 30s            2      0.0      3.1    511us   3.00ms   3.00ms\n"
		  "keys 4/16, overflow 8, in-flight overflow 1, gone 2, dropped 5\n"
		  "\n"
		  "    REQS   REQ/S BYTES/S     AVG     P95   5XX URI\n"
		  "       4     0.0   1.50K  2.00ms  6.50ms     0 /d\n"
		  "       3     1.5   2.00K  1.00ms  2.80ms     3 /c\n"
		  "\n"
		  "IN FLIGHT\n"
		  "     AGE     PID CLIENT                          METHOD   URI\n"
		  "   1.50s    1234 ::1                             GET      /sleep.lua\n"
		  "\n");
	free(s);

	s = printed(top_report_json, &t, &v, &f);
	CHECK_STR(s,
		  "{\"type\":\"top\",\"time\":3725.000,\"interval\":2.000,\"requests\":2,"
		  "\"bytes_out\":11500,\"bytes_in\":77,\"status\":{\"1xx\":0,\"2xx\":1,\"3xx\":0,"
		  "\"4xx\":0,\"5xx\":1,\"other\":0},\"windows\":["
		  "{\"name\":\"since start\",\"requests\":2,\"bytes_out\":11500,\"seconds\":3725.000,"
		  "\"p50_us\":511,\"p95_us\":3000,\"p99_us\":3000,\"max_us\":3000},"
		  "{\"name\":\"last 30s\",\"requests\":2,\"bytes_out\":11500,\"seconds\":3725.000,"
		  "\"p50_us\":511,\"p95_us\":3000,\"p99_us\":3000,\"max_us\":3000}],"
		  "\"keys\":4,\"max_keys\":16,\"overflow\":8,\"inflight_overflow\":1,\"gone\":2,"
		  "\"dropped\":5,\"group\":\"uri\",\"sort\":\"requests\",\"filter\":null,\"rows\":["
		  "{\"key\":\"/d\",\"requests\":4,\"req_s\":0.000,\"bytes_out\":4000,"
		  "\"bytes_s\":1500.000,\"avg_us\":2000,\"p95_us\":6500,\"5xx\":0},"
		  "{\"key\":\"/c\",\"requests\":3,\"req_s\":1.500,\"bytes_out\":4000,"
		  "\"bytes_s\":2000.000,\"avg_us\":1000,\"p95_us\":2800,\"5xx\":3}],"
		  "\"inflight\":[{\"id\":77,\"age_us\":1500000,\"pid\":1234,\"tid\":1235,"
		  "\"conn_id\":9,\"client\":\"::1\",\"method\":\"GET\",\"uri\":\"/sleep.lua\"}]}\n");
	free(s);

	/* no request in flight: no IN FLIGHT part; a filter is a JSON string */
	t.nin_flight = 0;
	CHECK(top_view_set_filter(&v, "^/\"", err, sizeof(err)) == 0);
	top_view_build(&v, &t);
	s = printed(top_report_text, &t, &v, &f);
	CHECK(strstr(s, "IN FLIGHT") == NULL);
	CHECK(strstr(s, ", filter ^/\"\n") != NULL);
	free(s);
	s = printed(top_report_json, &t, &v, &f);
	CHECK(strstr(s, "\"filter\":\"^/\\\"\",\"rows\":[],\"inflight\":[]}\n") != NULL);
	free(s);
	top_view_free(&v);
	top_table_free(&t);
}

void test_top_report(void)
{
	test_lines();
	test_reports();
}
