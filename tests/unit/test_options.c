/*
 * test_options.c - durations, intervals and counts (src/lib/options.c).
 */
#include "lib/options.h"
#include "unit.h"

static void test_duration(void)
{
	unsigned long long us = 1;

	CHECK(opt_duration_parse("500us", &us) == 0);
	CHECK_U64(us, 500);
	CHECK(opt_duration_parse("100ms", &us) == 0);
	CHECK_U64(us, 100000);
	CHECK(opt_duration_parse("2s", &us) == 0);
	CHECK_U64(us, 2000000);
	CHECK(opt_duration_parse("1.5s", &us) == 0);
	CHECK_U64(us, 1500000);
	CHECK(opt_duration_parse("1m", &us) == 0);
	CHECK_U64(us, 60000000);
	CHECK(opt_duration_parse("2500ns", &us) == 0);
	CHECK_U64(us, 2);
	CHECK(opt_duration_parse("0us", &us) == 0);
	CHECK_U64(us, 0);
	CHECK(opt_duration_parse("100", &us) == -1);
	CHECK(opt_duration_parse("ms", &us) == -1);
	CHECK(opt_duration_parse("-1s", &us) == -1);
	CHECK(opt_duration_parse("1h", &us) == -1);
	CHECK(opt_duration_parse("1 s", &us) == -1);
	CHECK(opt_duration_parse("", &us) == -1);
}

static void test_interval(void)
{
	unsigned long long ms = 7, n = 7;

	CHECK(opt_interval_parse("1", &ms) == 0);
	CHECK_U64(ms, 1000);
	CHECK(opt_interval_parse("0.5", &ms) == 0);
	CHECK_U64(ms, 500);
	CHECK(opt_interval_parse("250ms", &ms) == 0);
	CHECK_U64(ms, 250);
	CHECK(opt_interval_parse("2s", &ms) == 0);
	CHECK_U64(ms, 2000);
	CHECK(opt_interval_parse("1m", &ms) == 0);
	CHECK_U64(ms, 60000);
	CHECK(opt_interval_parse("86400", &ms) == 0);
	CHECK_U64(ms, 86400000);
	ms = 7;
	CHECK(opt_interval_parse("0", &ms) == -1);
	CHECK(opt_interval_parse("0.0001", &ms) == -1);
	CHECK(opt_interval_parse("500us", &ms) == -1);
	CHECK(opt_interval_parse("86401", &ms) == -1);
	CHECK(opt_interval_parse("-1", &ms) == -1);
	CHECK(opt_interval_parse("1x", &ms) == -1);
	CHECK(opt_interval_parse("x", &ms) == -1);
	CHECK(opt_interval_parse("", &ms) == -1);
	CHECK_U64(ms, 7);

	CHECK(opt_count_parse("3", &n) == 0);
	CHECK_U64(n, 3);
	CHECK(opt_count_parse("2147483647", &n) == 0);
	CHECK_U64(n, 2147483647);
	n = 7;
	CHECK(opt_count_parse("0", &n) == -1);
	CHECK(opt_count_parse("-3", &n) == -1);
	CHECK(opt_count_parse("+3", &n) == -1);
	CHECK(opt_count_parse("1.5", &n) == -1);
	CHECK(opt_count_parse("2147483648", &n) == -1);
	CHECK(opt_count_parse("", &n) == -1);
	CHECK_U64(n, 7);
}

void test_options(void)
{
	test_duration();
	test_interval();
}
