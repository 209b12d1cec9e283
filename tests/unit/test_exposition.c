/*
 * test_exposition.c - Prometheus' text format as the exporter writes it
 * (src/exporter/exposition.c).
 */
#include <stdlib.h>
#include "exporter/exposition.h"
#include "unit.h"

static void test_label(void)
{
	struct expo o = { 0 };

	/* backslash, quote, newline escaped; control and non-ASCII bytes as \xNN */
	expo_label(&o, "a\\b\"c\nd\x01\xc3\xa9", 64);
	CHECK_STR(o.buf, "a\\\\b\\\"c\\nd\\\\x01\\\\xC3\\\\xA9");
	free(o.buf);
	o = (struct expo){ 0 };
	expo_label(&o, "abcdef", 3); /* at most max bytes */
	CHECK_STR(o.buf, "abc");
	free(o.buf);
}

static void test_head_and_hist(void)
{
	static const unsigned long long bounds[3] = { 500, 1000, 2500 };
	static const unsigned long long buckets[3] = { 2, 0, 3 };
	struct expo o = { 0 };

	expo_head(&o, "m_seconds", "histogram", "Help.");
	expo_hist(&o, "m_seconds", "a=\"x\"", bounds, buckets, 3, 1e6, 4500, 6, NULL);
	expo_hist(&o, "m_seconds", "", bounds, buckets, 3, 1, 7, 5, NULL);
	expo_end(&o); /* nothing in the text format */
	CHECK_STR(o.buf,
		  "# HELP m_seconds Help.\n# TYPE m_seconds histogram\n"
		  "m_seconds_bucket{a=\"x\",le=\"0.0005\"} 2\n"
		  "m_seconds_bucket{a=\"x\",le=\"0.001\"} 2\n"
		  "m_seconds_bucket{a=\"x\",le=\"0.0025\"} 5\n"
		  "m_seconds_bucket{a=\"x\",le=\"+Inf\"} 6\n"
		  "m_seconds_sum{a=\"x\"} 0.0045\n"
		  "m_seconds_count{a=\"x\"} 6\n"
		  "m_seconds_bucket{le=\"500\"} 2\n"
		  "m_seconds_bucket{le=\"1000\"} 2\n"
		  "m_seconds_bucket{le=\"2500\"} 5\n"
		  "m_seconds_bucket{le=\"+Inf\"} 5\n"
		  "m_seconds_sum 7\n"
		  "m_seconds_count 5\n");
	CHECK(!o.failed);
	free(o.buf);
}

static void test_growth(void)
{
	struct expo o = { 0 };
	char last[101];
	size_t i;

	/* 1,000 lines of 100 bytes: past the first 64 KiB, nothing lost */
	for (i = 0; i < 1000; i++)
		expo_printf(&o, "%099zu\n", i);
	CHECK_U64(o.len, 100000);
	CHECK(o.cap >= 100001 && !o.failed);
	snprintf(last, sizeof(last), "%099zu\n", (size_t)999);
	CHECK(!memcmp(o.buf + 99900, last, 100));
	CHECK_U64(strlen(o.buf), 100000);
	free(o.buf);
}

static void test_openmetrics(void)
{
	static const unsigned long long bounds[2] = { 500, 1000 };
	static const unsigned long long buckets[2] = { 1, 1 };
	static const struct expo_exemplar ex[3] = {
		{ 42, 0.0004, "4bf92f3577b34da6a3ce929d0e0e4736" }, { 0, 0, NULL }, { 7, 2.5, "" } };
	struct expo o = { .openmetrics = true };

	/* a counter's family has no _total, its samples do; a gauge is as is */
	expo_head(&o, "c_total", "counter", "C.");
	expo_printf(&o, "c_total 3\n");
	expo_head(&o, "g_total", "gauge", "G.");
	/* exemplars after their bucket, none where the request id is 0; the
	 * trace id first where there is one */
	expo_hist(&o, "h_seconds", "", bounds, buckets, 2, 1e6, 2900000, 3, ex);
	expo_end(&o);
	CHECK_STR(o.buf,
		  "# HELP c C.\n# TYPE c counter\nc_total 3\n"
		  "# HELP g_total G.\n# TYPE g_total gauge\n"
		  "h_seconds_bucket{le=\"0.0005\"} 1 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\","
		  "request_id=\"42\"} 0.0004\n"
		  "h_seconds_bucket{le=\"0.001\"} 2\n"
		  "h_seconds_bucket{le=\"+Inf\"} 3 # {request_id=\"7\"} 2.5\n"
		  "h_seconds_sum 2.9\n"
		  "h_seconds_count 3\n"
		  "# EOF\n");
	free(o.buf);
}

void test_exposition(void)
{
	test_openmetrics();
	test_label();
	test_head_and_hist();
	test_growth();
}
