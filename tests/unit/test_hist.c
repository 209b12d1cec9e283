/*
 * test_hist.c - log2 slots, their edges, percentiles, merge and the
 * DTrace-style printout (src/lib/hist.c).
 */
#include <stdlib.h>
#include "lib/hist.h"
#include "unit.h"

static void test_slots(void)
{
	CHECK_U64(hist_slot(0), 0);
	CHECK_U64(hist_slot(1), 1);
	CHECK_U64(hist_slot(2), 2);
	CHECK_U64(hist_slot(3), 2);
	CHECK_U64(hist_slot(4), 3);
	CHECK_U64(hist_slot(1023), 10);
	CHECK_U64(hist_slot(1024), 11);
	CHECK_U64(hist_slot(~0ULL), 64);
	for (unsigned int s = 1; s < HIST_SLOTS; s++) {
		CHECK_U64(hist_slot(hist_slot_low(s)), s);
		CHECK_U64(hist_slot(hist_slot_high(s)), s);
	}
	CHECK_U64(hist_slot_low(0), 0);
	CHECK_U64(hist_slot_high(0), 0);
	CHECK_U64(hist_slot_low(11), 1024);
	CHECK_U64(hist_slot_high(11), 2047);
}

static void test_percentiles(void)
{
	struct hist h = { 0 }, o = { 0 };

	CHECK_U64(hist_percentile(&h, 50), 0);
	/* 90 values of 100 (slot 7: 64-127), 9 of 1000 (slot 10: 512-1023),
	 * one of 5000 (slot 13: 4096-8191). */
	for (int i = 0; i < 90; i++)
		hist_add(&h, 100);
	for (int i = 0; i < 9; i++)
		hist_add(&h, 1000);
	hist_add(&h, 5000);
	CHECK_U64(h.count, 100);
	CHECK_U64(h.sum, 90 * 100 + 9 * 1000 + 5000);
	CHECK_U64(h.max, 5000);
	CHECK_U64(h.slots[7], 90);
	CHECK_U64(hist_percentile(&h, 50), 127);
	CHECK_U64(hist_percentile(&h, 90), 127);  /* the 90th value is still 100 */
	CHECK_U64(hist_percentile(&h, 91), 1023);
	CHECK_U64(hist_percentile(&h, 99), 1023);
	CHECK_U64(hist_percentile(&h, 100), 5000); /* slot edge 8191 clamped to max */

	hist_add(&o, 0);
	hist_add(&o, 7000);
	hist_merge(&h, &o);
	CHECK_U64(h.count, 102);
	CHECK_U64(h.slots[0], 1);
	CHECK_U64(h.slots[13], 2);
	CHECK_U64(h.max, 7000);
	CHECK_U64(hist_percentile(&h, 0.5), 0); /* rank 1: the 0 */
	CHECK_U64(hist_percentile(&h, 1), 127);  /* rank 2: a 100 */
}

static void test_print(void)
{
	struct hist h = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	hist_add(&h, 3);
	hist_add(&h, 3);
	hist_add(&h, 3);
	hist_add(&h, 40);
	f = open_memstream(&buf, &len);
	hist_print(f, &h, "microseconds");
	fclose(f);
	/* From the slot before the first (1) to the one after the last (64):
	 * 3 of 4 is 30 '@', 1 of 4 is 10. */
	CHECK_STR(buf,
		  "  microseconds\n"
		  "           value  ------------- Distribution ------------- count\n"
		  "               1 |                                         0\n"
		  "               2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@           3\n"
		  "               4 |                                         0\n"
		  "               8 |                                         0\n"
		  "              16 |                                         0\n"
		  "              32 |@@@@@@@@@@                               1\n"
		  "              64 |                                         0\n");
	free(buf);
}

static void test_stats_and_json(void)
{
	struct hist h = { { 0 }, 0, 0, 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	hist_json(f, &h);
	fclose(f);
	CHECK_STR(buf, "\"count\":0,\"sum\":0,\"max\":0,\"p50\":0,\"p90\":0,\"p99\":0,"
		       "\"buckets\":[]");
	free(buf);

	for (int i = 0; i < 9; i++)
		hist_add(&h, 3);
	hist_add(&h, 40);
	f = open_memstream(&buf, &len);
	hist_print_stats(f, &h);
	fclose(f);
	/* p50 and p90 fall in [2, 3]; p99 is rank 10, in [32, 63], clamped to
	 * the max 40. */
	CHECK_STR(buf, "  count 10, p50 <= 3, p90 <= 3, p99 <= 40, max 40\n");
	free(buf);

	f = open_memstream(&buf, &len);
	hist_json(f, &h);
	fclose(f);
	CHECK_STR(buf, "\"count\":10,\"sum\":67,\"max\":40,\"p50\":3,\"p90\":3,\"p99\":40,"
		       "\"buckets\":[{\"low\":2,\"high\":3,\"count\":9},"
		       "{\"low\":32,\"high\":63,\"count\":1}]");
	free(buf);
}

/* The BPF programs' hist_add_atomic keeps the same struct as hist_add. */
static void test_add_atomic(void)
{
	struct hist a = { { 0 }, 0, 0, 0 }, b = { { 0 }, 0, 0, 0 };
	static const unsigned long long vals[] = { 0, 1, 3, 40, 1024, 7, 1ULL << 40 };

	for (unsigned int i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		hist_add(&a, vals[i]);
		hist_add_atomic(&b, vals[i]);
	}
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	CHECK_U64(b.count, 7);
	CHECK_U64(b.max, 1ULL << 40);
}

void test_hist(void)
{
	test_add_atomic();
	test_slots();
	test_percentiles();
	test_print();
	test_stats_and_json();
}
