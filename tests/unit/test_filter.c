/*
 * test_filter.c - status, duration, method and uri filters (src/filter.c).
 */
#include "filter.h"
#include "unit.h"

static void test_status(void)
{
	struct filter_status f = { 0, 0 };

	CHECK(filter_status_match(&f, 200));
	CHECK(filter_status_parse("404", &f) == 0);
	CHECK_U64(f.lo, 404);
	CHECK_U64(f.hi, 404);
	CHECK(filter_status_match(&f, 404));
	CHECK(!filter_status_match(&f, 403));
	CHECK(filter_status_parse("5xx", &f) == 0);
	CHECK_U64(f.lo, 500);
	CHECK_U64(f.hi, 599);
	CHECK(filter_status_match(&f, 500) && filter_status_match(&f, 599));
	CHECK(!filter_status_match(&f, 499) && !filter_status_match(&f, 600));
	CHECK(filter_status_parse("4XX", &f) == 0 && f.lo == 400 && f.hi == 499);
	CHECK(filter_status_parse("300-399", &f) == 0 && f.lo == 300 && f.hi == 399);
	CHECK(filter_status_parse("", &f) == -1);
	CHECK(filter_status_parse("0xx", &f) == -1);
	CHECK(filter_status_parse("99", &f) == -1);
	CHECK(filter_status_parse("1000", &f) == -1);
	CHECK(filter_status_parse("404x", &f) == -1);
	CHECK(filter_status_parse("499-400", &f) == -1);
	CHECK(filter_status_parse("400-", &f) == -1);
	CHECK(filter_status_parse("-404", &f) == -1);
	CHECK(filter_status_parse("5x", &f) == -1);
}

static void test_duration(void)
{
	unsigned long long us = 1;

	CHECK(filter_duration_parse("500us", &us) == 0);
	CHECK_U64(us, 500);
	CHECK(filter_duration_parse("100ms", &us) == 0);
	CHECK_U64(us, 100000);
	CHECK(filter_duration_parse("2s", &us) == 0);
	CHECK_U64(us, 2000000);
	CHECK(filter_duration_parse("1.5s", &us) == 0);
	CHECK_U64(us, 1500000);
	CHECK(filter_duration_parse("1m", &us) == 0);
	CHECK_U64(us, 60000000);
	CHECK(filter_duration_parse("2500ns", &us) == 0);
	CHECK_U64(us, 2);
	CHECK(filter_duration_parse("0us", &us) == 0);
	CHECK_U64(us, 0);
	CHECK(filter_duration_parse("100", &us) == -1);
	CHECK(filter_duration_parse("ms", &us) == -1);
	CHECK(filter_duration_parse("-1s", &us) == -1);
	CHECK(filter_duration_parse("1h", &us) == -1);
	CHECK(filter_duration_parse("1 s", &us) == -1);
	CHECK(filter_duration_parse("", &us) == -1);
}

static void test_method(void)
{
	char m[16];

	CHECK(filter_method_parse("get", m, sizeof(m)) == 0);
	CHECK_STR(m, "GET");
	CHECK(filter_method_parse("M-SEARCH", m, sizeof(m)) == 0);
	CHECK_STR(m, "M-SEARCH");
	CHECK(filter_method_parse("", m, sizeof(m)) == -1);
	CHECK(filter_method_parse("GE T", m, sizeof(m)) == -1);
	CHECK(filter_method_parse("ABCDEFGHIJKLMNOP", m, sizeof(m)) == -1); /* 16 > 15 */
	CHECK(filter_method_parse("ABCDEFGHIJKLMNO", m, sizeof(m)) == 0);
}

static void test_uri(void)
{
	struct filter_uri f = { 0 };
	char err[128];

	CHECK(filter_uri_match(&f, "/anything"));
	f.substr = "/api/";
	CHECK(filter_uri_match(&f, "/v1/api/users"));
	CHECK(!filter_uri_match(&f, "/static/api"));
	f.substr = NULL;
	CHECK(filter_uri_regex(&f, "^/img/.*\\.(png|jpg)$", err, sizeof(err)) == 0);
	CHECK(filter_uri_match(&f, "/img/a.png"));
	CHECK(!filter_uri_match(&f, "/img/a.gif"));
	CHECK(!filter_uri_match(&f, "/x/img/a.png"));
	f.substr = "b";
	CHECK(filter_uri_match(&f, "/img/b.png"));
	CHECK(!filter_uri_match(&f, "/img/a.png"));
	filter_uri_free(&f);
	CHECK(!f.has_regex);
	CHECK(filter_uri_regex(&f, "([", err, sizeof(err)) == -1);
	CHECK(err[0] != '\0');
}

static void test_interval(void)
{
	unsigned long long ms = 7, n = 7;

	CHECK(filter_interval_parse("1", &ms) == 0);
	CHECK_U64(ms, 1000);
	CHECK(filter_interval_parse("0.5", &ms) == 0);
	CHECK_U64(ms, 500);
	CHECK(filter_interval_parse("250ms", &ms) == 0);
	CHECK_U64(ms, 250);
	CHECK(filter_interval_parse("2s", &ms) == 0);
	CHECK_U64(ms, 2000);
	CHECK(filter_interval_parse("1m", &ms) == 0);
	CHECK_U64(ms, 60000);
	CHECK(filter_interval_parse("86400", &ms) == 0);
	CHECK_U64(ms, 86400000);
	ms = 7;
	CHECK(filter_interval_parse("0", &ms) == -1);
	CHECK(filter_interval_parse("0.0001", &ms) == -1);
	CHECK(filter_interval_parse("500us", &ms) == -1);
	CHECK(filter_interval_parse("86401", &ms) == -1);
	CHECK(filter_interval_parse("-1", &ms) == -1);
	CHECK(filter_interval_parse("1x", &ms) == -1);
	CHECK(filter_interval_parse("x", &ms) == -1);
	CHECK(filter_interval_parse("", &ms) == -1);
	CHECK_U64(ms, 7);

	CHECK(filter_count_parse("3", &n) == 0);
	CHECK_U64(n, 3);
	CHECK(filter_count_parse("2147483647", &n) == 0);
	CHECK_U64(n, 2147483647);
	n = 7;
	CHECK(filter_count_parse("0", &n) == -1);
	CHECK(filter_count_parse("-3", &n) == -1);
	CHECK(filter_count_parse("+3", &n) == -1);
	CHECK(filter_count_parse("1.5", &n) == -1);
	CHECK(filter_count_parse("2147483648", &n) == -1);
	CHECK(filter_count_parse("", &n) == -1);
	CHECK_U64(n, 7);
}

void test_filter(void)
{
	test_status();
	test_duration();
	test_interval();
	test_method();
	test_uri();
}
