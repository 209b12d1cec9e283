/*
 * unit.c - runs every C unit test (see unit.h) and prints the tally.
 */
#include "unit.h"

int unit_passed, unit_failed;

int main(void)
{
	test_hist();
	test_fmt();
	test_filter();
	test_options();
	test_exposition();
	test_top_table();
	test_top_view();
	test_top_report();
	test_traceparent();
	test_pools_leak();
	printf("unit: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
