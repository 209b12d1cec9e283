/*
 * test_filter.c - status, method and uri filters (src/lib/filter.c).
 */
#include "lib/filter.h"
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


void test_filter(void)
{
	test_status();
	test_method();
	test_uri();
}
