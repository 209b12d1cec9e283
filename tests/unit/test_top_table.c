/*
 * test_top_table.c - `httpdtrace top`'s copy of the kernel's maps and its
 * windows (src/top/table.c): the entry table, the per-second snapshots, the
 * ring of recent requests, the in-flight order and the window sums.
 */
#include <stdlib.h>
#include "top/table.h"
#include "unit.h"

#define START 1000000000000ULL /* an arbitrary CLOCK_MONOTONIC start */
#define MS 1000000ULL

static struct top_key key_of(const char *uri, int status)
{
	struct top_key k;

	memset(&k, 0, sizeof(k));
	snprintf(k.uri, sizeof(k.uri), "%s", uri);
	k.status = status;
	return k;
}

static void test_entries(void)
{
	struct top_table t;
	struct top_key k = key_of("/a", 200), other;
	struct top_stats v;
	char uri[16];

	CHECK(top_table_alloc(&t, 20, 30, 0) == 0);
	CHECK_U64(t.nslots, 64);  /* 2 x 20, rounded up to a power of two */
	CHECK_U64(t.nsnapshots, 32);
	top_table_free(&t);

	CHECK(top_table_alloc(&t, 16, 30, 0) == 0);
	CHECK_U64(t.nslots, 32);
	memset(&v, 0, sizeof(v));
	v.lat.slots[hist_slot(100)] = 2;
	v.lat.count = 99; /* the BPF side's count may lag: the slots are the truth */
	v.bytes_out = 500;
	top_table_update(&t, &k, &v);
	CHECK_U64(t.nentries, 1);
	v.lat.slots[hist_slot(100)] = 3;
	v.lat.slots[hist_slot(5000)] = 1;
	v.bytes_out = 800;
	top_table_update(&t, &k, &v);
	CHECK_U64(t.nentries, 1); /* the same key again */
	for (size_t i = 0; i < t.nslots; i++) {
		const struct top_entry *e = &t.entries[i];

		if (!e->used)
			continue;
		CHECK_STR(e->key.uri, "/a");
		CHECK_U64(e->stats.lat.count, 4);
		CHECK_U64(e->prev_requests, 2);
		CHECK_U64(e->stats.bytes_out, 800);
		CHECK_U64(e->prev_bytes_out, 500);
	}
	/* room for new keys until half the 32 slots are used */
	for (int i = 1; i < 15; i++) {
		snprintf(uri, sizeof(uri), "/k%d", i);
		other = key_of(uri, 200);
		top_table_update(&t, &other, &v);
	}
	CHECK_U64(t.nentries, 15);
	CHECK(top_table_has_room(&t));
	other = key_of("/k15", 404);
	top_table_update(&t, &other, &v);
	CHECK_U64(t.nentries, 16);
	CHECK(!top_table_has_room(&t));
	/* half full: a new key is left out, a known one still updates */
	other = key_of("/k16", 200);
	top_table_update(&t, &other, &v);
	CHECK_U64(t.nentries, 16);
	v.bytes_out = 900;
	top_table_update(&t, &k, &v);
	for (size_t i = 0; i < t.nslots; i++) {
		const struct top_entry *e = &t.entries[i];

		CHECK(!e->used || strcmp(e->key.uri, "/k16"));
		if (e->used && !strcmp(e->key.uri, "/a"))
			CHECK_U64(e->stats.bytes_out, 900);
	}
	top_table_free(&t);
}

static void test_snapshots(void)
{
	struct top_table t;

	CHECK(top_table_alloc(&t, 16, 2, 0) == 0);
	CHECK_U64(t.nsnapshots, 4);
	top_table_start(&t, START);
	CHECK(!top_table_snapshot_due(&t, START + 500 * MS));
	CHECK(top_table_snapshot_due(&t, START + 1000 * MS));
	CHECK_U64(t.next_snapshot_ns, START + 2000 * MS);
	CHECK(!top_table_snapshot_due(&t, START + 1500 * MS));
	CHECK(top_table_snapshot_due(&t, START + 2020 * MS)); /* late: stays on the second */
	CHECK_U64(t.next_snapshot_ns, START + 3000 * MS);
	CHECK(top_table_snapshot_due(&t, START + 7300 * MS)); /* a stall: realigned */
	CHECK_U64(t.next_snapshot_ns, START + 8300 * MS);

	/* a ring of 4: the fifth snapshot replaces the first */
	for (unsigned long long s = 1; s <= 5; s++) {
		t.totals.lat.count = s;
		t.totals.bytes_out = 100 * s;
		t.totals.lat.slots[3] = s;
		top_table_snapshot(&t, START + s * 1000 * MS);
	}
	CHECK_U64(t.snapshots_taken, 5);
	CHECK_U64(t.snapshots[0].ts_ns, START + 5000 * MS);
	CHECK_U64(t.snapshots[0].requests, 5);
	CHECK_U64(t.snapshots[0].bytes_out, 500);
	CHECK_U64(t.snapshots[0].slots[3], 5);
	CHECK_U64(t.snapshots[1].ts_ns, START + 2000 * MS);
	top_table_free(&t);
}

static void test_in_flight_and_interval(void)
{
	struct top_table t;
	static const unsigned long long starts[] = { 30, 10, 20 };

	CHECK(top_table_alloc(&t, 16, 30, 0) == 0);
	for (int i = 0; i < 3; i++) {
		t.in_flight[i].id = (unsigned long long)i + 1;
		t.in_flight[i].flight.start_ns = starts[i];
	}
	t.nin_flight = 3;
	top_table_sort_in_flight(&t);
	CHECK_U64(t.in_flight[0].id, 2);
	CHECK_U64(t.in_flight[1].id, 3);
	CHECK_U64(t.in_flight[2].id, 1);

	top_table_start(&t, START);
	CHECK(top_table_interval_s(&t) == 0); /* no read yet */
	t.read_ns = START + 2000 * MS;
	CHECK(top_table_interval_s(&t) == 2.0); /* the first: since start */
	t.prev_read_ns = t.read_ns;
	t.read_ns += 500 * MS;
	CHECK(top_table_interval_s(&t) == 0.5);
	top_table_free(&t);
}

/* Totals of the latencies in lats and bytes_out. */
static void set_totals(struct top_table *t, const unsigned long long *lats, int n,
		       unsigned long long bytes_out)
{
	memset(&t->totals.lat, 0, sizeof(t->totals.lat));
	for (int i = 0; i < n; i++)
		hist_add(&t->totals.lat, lats[i]);
	t->totals.bytes_out = bytes_out;
}

static void test_time_window(void)
{
	static const unsigned long long lats[] = { 5000, 10, 100, 1000 };
	struct top_table t;
	struct top_window w[2];

	CHECK(top_table_alloc(&t, 16, 2, 0) == 0);
	top_table_start(&t, START);
	set_totals(&t, lats, 4, 1000);
	t.totals.lat.count = 0; /* as read from BPF: the slots count */

	/* no snapshot 2 s old yet: both windows are everything since start */
	top_table_windows(&t, START + 5000 * MS, w);
	CHECK_STR(w[0].name, "since start");
	CHECK_U64(w[0].requests, 4);
	CHECK_U64(w[0].lat.count, 4);
	CHECK_U64(w[0].bytes_out, 1000);
	CHECK(w[0].seconds == 5.0);
	CHECK_U64(w[0].lat.max, 5000);
	CHECK_STR(w[1].name, "last 2s");
	CHECK_U64(w[1].requests, 4);
	CHECK_U64(w[1].bytes_out, 1000);
	CHECK_U64(w[1].lat.sum, 6110);
	CHECK(w[1].seconds == 5.0);

	/* snapshots at 1 s (the 5000) and 2 s (5000 and 10) */
	set_totals(&t, lats, 1, 100);
	top_table_snapshot(&t, START + 1000 * MS);
	set_totals(&t, lats, 2, 300);
	top_table_snapshot(&t, START + 2000 * MS);
	set_totals(&t, lats, 4, 1000);

	/* at 3.5 s only the 1 s snapshot is 2 s old: 10, 100, 1000 remain */
	top_table_windows(&t, START + 3500 * MS, w);
	CHECK_U64(w[1].requests, 3);
	CHECK_U64(w[1].bytes_out, 900);
	CHECK(w[1].seconds == 2.5);
	CHECK_U64(w[1].lat.slots[hist_slot(10)], 1);
	CHECK_U64(w[1].lat.slots[hist_slot(5000)], 0);
	CHECK_U64(w[1].lat.max, 1023); /* 1000's slot edge, not the 5000 seen before */
	CHECK_U64(w[1].lat.sum, 0);    /* unknown */
	CHECK_U64(hist_percentile(&w[1].lat, 50), 127);
	CHECK_U64(w[0].requests, 4); /* since start keeps everything */
	CHECK_U64(w[0].lat.max, 5000);

	/* at 4.5 s the 2 s snapshot is the newest old enough: 100, 1000 */
	top_table_windows(&t, START + 4500 * MS, w);
	CHECK_U64(w[1].requests, 2);
	CHECK_U64(w[1].bytes_out, 700);
	CHECK(w[1].seconds == 2.5);
	CHECK_U64(hist_percentile(&w[1].lat, 50), 127);
	CHECK_U64(hist_percentile(&w[1].lat, 99), 1023);
	top_table_free(&t);
}

static void test_request_window(void)
{
	struct top_table t;
	struct top_window w[2];
	struct top_event e;

	CHECK(top_table_alloc(&t, 16, 30, 3) == 0);
	top_table_start(&t, START);
	top_table_windows(&t, START + 5000 * MS, w);
	CHECK_STR(w[1].name, "last 3 req");
	CHECK_U64(w[1].requests, 0);
	CHECK(w[1].seconds == 5.0); /* none yet: since start */

	memset(&e, 0, sizeof(e));
	for (unsigned long long i = 1; i <= 4; i++) {
		e.ts_ns = START + i * 1000 * MS;
		e.latency_us = 100 * i;
		e.bytes_out = 10 * i;
		CHECK(top_table_add_event(&t, &e, sizeof(e)) == 0);
	}
	CHECK(top_table_add_event(&t, &e, 8) == 0); /* too short: ignored */
	CHECK_U64(t.nrecent, 3);
	CHECK_U64(t.recent_next, 4);
	CHECK_U64(t.recent[0].latency_us, 400); /* the fourth replaced the first */

	top_table_windows(&t, START + 5000 * MS, w);
	CHECK_U64(w[1].requests, 3);
	CHECK_U64(w[1].bytes_out, 20 + 30 + 40);
	CHECK(w[1].seconds == 3.0); /* since the oldest kept, at 2 s */
	CHECK_U64(w[1].lat.count, 3);
	CHECK_U64(w[1].lat.sum, 900);
	CHECK_U64(w[1].lat.max, 400);
	CHECK_U64(hist_percentile(&w[1].lat, 50), 400); /* 300's slot edge 511, capped */
	top_table_free(&t);
}

void test_top_table(void)
{
	test_entries();
	test_snapshots();
	test_in_flight_and_interval();
	test_time_window();
	test_request_window();
}
