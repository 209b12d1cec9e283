/*
 * test_top_view.c - `httpdtrace top`'s rows (src/top/view.c): keys under
 * each grouping, sums per row, the order under every sort key, the uri
 * filter and the drill-down levels. top_fixture() is shared with
 * test_top_report.c.
 */
#include <stdlib.h>
#include "top/view.h"
#include "unit.h"

#define START 1000000000000ULL
#define SECOND 1000000000ULL

static void add_entry(struct top_table *t, const char *uri, const char *client, const char *vhost,
		      const char *handler, const char *method, int status,
		      const unsigned long long *lats, int n, unsigned long long bytes_out)
{
	struct top_key k;
	struct top_stats v;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	snprintf(k.uri, sizeof(k.uri), "%s", uri);
	snprintf(k.client, sizeof(k.client), "%s", client);
	snprintf(k.vhost, sizeof(k.vhost), "%s", vhost);
	snprintf(k.handler, sizeof(k.handler), "%s", handler);
	snprintf(k.method, sizeof(k.method), "%s", method);
	k.status = status;
	for (int i = 0; i < n; i++)
		hist_add(&v.lat, lats[i]);
	v.bytes_out = bytes_out;
	top_table_update(t, &k, &v);
}

/* Four keys, read twice (at 1 s and 3 s), each the only key of its uri:
 *
 *   uri  client    vhost handler method status latencies (µs)      bytes    new since 1 s
 *   /d   10.0.0.1  v1    h1      GET    200    500 500 500 6500   4000     0 req, 3000 B
 *   /c   10.0.0.2  v1    h1      POST   503    100 100 2800       4000     3 req, 4000 B
 *   /b   10.0.0.1  -     -       GET    500    4000 4000          1500     0 req, 1000 B
 *   /a   10.0.0.2  v2    h2      GET    404    3000               2000     1 req, 2000 B
 *
 * so by uri: requests 4 3 2 1, avg 2000 1000 4000 3000, p95 (the largest
 * of so few: slot edges capped at the max) 6500 2800 4000 3000, 5xx 0 3 2 0,
 * and each sort key orders the four differently. The view groups by uri,
 * sorted by requests. */
void top_fixture(struct top_table *t, struct top_view *v)
{
	static const unsigned long long d[] = { 500, 500, 500, 6500 }, c[] = { 100, 100, 2800 },
					b[] = { 4000, 4000 }, a[] = { 3000 };

	CHECK(top_table_alloc(t, 16, 30, 0) == 0);
	top_table_start(t, START);
	add_entry(t, "/d", "10.0.0.1", "v1", "h1", "GET", 200, d, 4, 1000);
	add_entry(t, "/b", "10.0.0.1", "", "", "GET", 500, b, 2, 500);
	add_entry(t, "/d", "10.0.0.1", "v1", "h1", "GET", 200, d, 4, 4000);
	add_entry(t, "/c", "10.0.0.2", "v1", "h1", "POST", 503, c, 3, 4000);
	add_entry(t, "/b", "10.0.0.1", "", "", "GET", 500, b, 2, 1500);
	add_entry(t, "/a", "10.0.0.2", "v2", "h2", "GET", 404, a, 1, 2000);
	t->prev_read_ns = START + 1 * SECOND;
	t->read_ns = START + 3 * SECOND;
	memset(v, 0, sizeof(*v));
	CHECK(top_view_alloc(v, 16) == 0);
	top_view_build(v, t);
}

/* The row keys of v->rows, space-separated. */
static const char *keys(const struct top_row *rows, size_t n)
{
	static char out[256];
	size_t len = 0;

	out[0] = 0;
	for (size_t i = 0; i < n && len < sizeof(out); i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i ? " " : "",
					rows[i].key);
	return out;
}

/* A row as it should be: since start, since the read before, 5xx, average
 * and p95 latency. */
struct want {
	const char *key;
	unsigned long long requests, interval_requests, bytes_out, interval_bytes_out;
	unsigned long long status_5xx, avg, p95;
};

/* Each wanted row is among v->rows with exactly those figures. */
static void check_rows(const struct top_view *v, const struct want *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct want *w = &want[i];
		const struct top_row *r = NULL;

		for (size_t j = 0; j < v->nrows && !r; j++)
			if (!strcmp(v->rows[j].key, w->key))
				r = &v->rows[j];
		CHECK(r != NULL);
		if (!r)
			continue;
		CHECK_U64(r->requests, w->requests);
		CHECK_U64(r->lat.count, w->requests);
		CHECK_U64(r->interval_requests, w->interval_requests);
		CHECK_U64(r->bytes_out, w->bytes_out);
		CHECK_U64(r->interval_bytes_out, w->interval_bytes_out);
		CHECK_U64(r->status_5xx, w->status_5xx);
		CHECK_U64(top_view_row_avg(r), w->avg);
		CHECK_U64(hist_percentile(&r->lat, 95), w->p95);
	}
}

static void test_rows_by_uri(struct top_table *t, struct top_view *v)
{
	static const struct want rows[] = {
		{ "/d", 4, 0, 4000, 3000, 0, 2000, 6500 },
		{ "/c", 3, 3, 4000, 4000, 3, 1000, 2800 },
		{ "/b", 2, 0, 1500, 1000, 2, 4000, 4000 },
		{ "/a", 1, 1, 2000, 2000, 0, 3000, 3000 },
	};
	static const char *const orders[TOP_SORTS] = {
		[TOP_SORT_REQUESTS] = "/d /c /b /a",
		[TOP_SORT_RATE] = "/c /a /d /b",  /* 3, 1, then 0 and 0: the busier first */
		[TOP_SORT_BYTES] = "/c /d /a /b", /* bytes since the read before */
		[TOP_SORT_AVG] = "/b /a /d /c",
		[TOP_SORT_P95] = "/d /b /a /c",
		[TOP_SORT_5XX] = "/c /b /d /a",   /* 3, 2, then 0 and 0: the busier first */
		[TOP_SORT_KEY] = "/a /b /c /d",
	};

	CHECK_STR(keys(v->rows, v->nrows), orders[TOP_SORT_REQUESTS]);
	CHECK_U64(v->nstatus_rows, 0);
	check_rows(v, rows, 4);
	for (int s = 0; s < TOP_SORTS; s++) {
		v->sort = (enum top_sort)s;
		top_view_build(v, t);
		CHECK_STR(keys(v->rows, v->nrows), orders[s]);
	}
	v->sort = TOP_SORT_REQUESTS;
}

static void test_rows_by_field(struct top_table *t, struct top_view *v)
{
	static const struct want clients[] = {
		/* /d and /b: 500 500 500 6500 4000 4000 */
		{ "10.0.0.1", 6, 0, 5500, 4000, 2, 16000 / 6, 6500 },
		/* /c and /a: 100 100 2800 3000 */
		{ "10.0.0.2", 4, 4, 6000, 6000, 3, 1500, 3000 },
	};
	static const char *const orders[TOP_GROUPS] = {
		[TOP_GROUP_URI] = "/d /c /b /a",
		[TOP_GROUP_CLIENT] = "10.0.0.1 10.0.0.2",
		[TOP_GROUP_VHOST] = "v1 - v2",
		[TOP_GROUP_STATUS] = "200 503 500 404",
		[TOP_GROUP_METHOD] = "GET POST",
		[TOP_GROUP_HANDLER] = "h1 - h2",
	};

	for (int g = 0; g < TOP_GROUPS; g++) {
		v->group = (enum top_group)g;
		top_view_build(v, t);
		CHECK_STR(keys(v->rows, v->nrows), orders[g]);
	}
	v->group = TOP_GROUP_CLIENT;
	top_view_build(v, t);
	check_rows(v, clients, 2);
	v->group = TOP_GROUP_URI;
	top_view_build(v, t);
}

static void test_segments(void)
{
	static const unsigned long long one[] = { 10 }, two[] = { 10, 20 };
	struct top_table t;
	struct top_view v;
	char buf[TOP_KEY_LEN];

	CHECK(top_table_alloc(&t, 16, 30, 0) == 0);
	add_entry(&t, "/api/v1/a", "", "", "", "GET", 200, one, 1, 0);
	add_entry(&t, "/api/v1/b", "", "", "", "GET", 200, two, 2, 0);
	add_entry(&t, "/api/v1/", "", "", "", "GET", 200, one, 1, 0);
	add_entry(&t, "/api/v2", "", "", "", "GET", 200, one, 1, 0);
	memset(&v, 0, sizeof(v));
	CHECK(top_view_alloc(&v, 16) == 0);
	v.segments = 2;
	top_view_build(&v, &t);
	CHECK_STR(keys(v.rows, v.nrows), "/api/v1/... /api/v1/ /api/v2");
	CHECK_U64(v.rows[0].requests, 3);
	top_view_key(&v, &t.entries[0].key, TOP_GROUP_CLIENT, buf, sizeof(buf));
	CHECK_STR(buf, "-"); /* an empty field */
	v.segments = 0;
	top_view_build(&v, &t);
	CHECK_U64(v.nrows, 4);
	top_view_free(&v);
	top_table_free(&t);
}

static void test_uri_filter(struct top_table *t, struct top_view *v)
{
	char err[160];

	CHECK(top_view_set_filter(v, "^/[ab]$", err, sizeof(err)) == 0);
	CHECK_STR(v->filter_text, "^/[ab]$");
	top_view_build(v, t);
	CHECK_STR(keys(v->rows, v->nrows), "/b /a");
	CHECK(top_view_set_filter(v, "(", err, sizeof(err)) == -1);
	CHECK(strncmp(err, "invalid regex '(': ", 19) == 0);
	CHECK_STR(v->filter_text, "^/[ab]$"); /* the old filter stays */
	top_view_build(v, t);
	CHECK_STR(keys(v->rows, v->nrows), "/b /a");
	CHECK(top_view_set_filter(v, "", err, sizeof(err)) == 0);
	CHECK_STR(v->filter_text, "");
	top_view_build(v, t);
	CHECK_U64(v->nrows, 4);
}

static void test_drill_down(struct top_table *t, struct top_view *v)
{
	v->sort = TOP_SORT_KEY;
	top_view_build(v, t); /* /a /b /c /d */
	CHECK(top_view_drill_down(v, 4) == -1); /* no such row */
	CHECK(top_view_drill_down(v, 2) == 0);  /* into /c: its clients, statuses below */
	CHECK_U64(v->nscopes, 1);
	CHECK_STR(v->scopes[0].value, "/c");
	CHECK_U64(v->group, TOP_GROUP_CLIENT);
	top_view_build(v, t);
	CHECK_STR(keys(v->rows, v->nrows), "10.0.0.2");
	CHECK_U64(v->rows[0].requests, 3);
	CHECK_STR(keys(v->status_rows, v->nstatus_rows), "503");
	CHECK_U64(v->status_rows[0].status_5xx, 3);
	for (size_t i = 0; i < t->nslots; i++)
		if (t->entries[i].used)
			CHECK(top_view_shows(v, &t->entries[i]) == !strcmp(t->entries[i].key.uri, "/c"));

	CHECK(top_view_drill_down(v, 0) == 0); /* into the client: its uris under /c */
	CHECK_U64(v->group, TOP_GROUP_URI);
	top_view_build(v, t);
	CHECK_STR(keys(v->rows, v->nrows), "/c");
	CHECK_U64(v->nstatus_rows, 0);
	CHECK(top_view_drill_down(v, 0) == 0); /* /c again: its client */
	top_view_build(v, t);
	CHECK(top_view_drill_down(v, 0) == 0);
	CHECK_U64(v->nscopes, TOP_MAX_SCOPES);
	top_view_build(v, t);
	CHECK(top_view_drill_down(v, 0) == -1); /* no level left */
	CHECK(top_view_drill_up(v) == 0);
	CHECK(top_view_drill_up(v) == 0);
	CHECK(top_view_drill_up(v) == 0);
	CHECK_U64(v->group, TOP_GROUP_CLIENT);
	CHECK(top_view_drill_up(v) == 2); /* back to the uris, /c selected */
	CHECK_U64(v->group, TOP_GROUP_URI);
	CHECK_U64(v->nscopes, 0);
	CHECK(top_view_drill_up(v) == -1);

	/* into a client: its uris */
	v->group = TOP_GROUP_CLIENT;
	v->sort = TOP_SORT_REQUESTS;
	top_view_build(v, t);
	CHECK(top_view_drill_down(v, 0) == 0);
	top_view_build(v, t);
	CHECK_STR(keys(v->rows, v->nrows), "/d /b");
	CHECK_U64(v->nstatus_rows, 0);
	CHECK(top_view_drill_up(v) == 0);
	v->group = TOP_GROUP_URI;
	top_view_build(v, t);
}

static void test_limit(struct top_view *v)
{
	CHECK_U64(top_view_limit(v, 4), 4); /* no -r */
	v->limit = 2;
	CHECK_U64(top_view_limit(v, 4), 2);
	CHECK_U64(top_view_limit(v, 1), 1);
	v->limit = 0;
}

void test_top_view(void)
{
	struct top_table t;
	struct top_view v;

	top_fixture(&t, &v);
	test_rows_by_uri(&t, &v);
	test_rows_by_field(&t, &v);
	test_uri_filter(&t, &v);
	test_drill_down(&t, &v);
	test_limit(&v);
	top_view_free(&v);
	top_table_free(&t);
	test_segments();
}
