/*
 * table.h - what `httpdtrace top` knows of the kernel's maps, as last
 * read, and the two windows it shows over them. collect.c reads the maps
 * into a struct top_table; this part only keeps and sums (no BPF, no
 * terminal), so tests/unit reaches it.
 *
 *   entries     every key of `stats` with its counters at the last read and
 *               the two counts rates need from the read before
 *   snapshots   the totals once a second, in a ring: the "last N seconds"
 *               window (-T) is the latest totals minus the newest snapshot
 *               at least N seconds old, exact to the second
 *   recent      with -H N, the last N finished requests, in a ring: the
 *               "last N requests" window is a histogram of those
 *   in_flight   the requests started and not yet done, oldest first
 */
#ifndef TOP_TABLE_H
#define TOP_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "lib/hist.h"
#include "top.h"

#define TOP_NS_PER_S 1000000000ULL

/* One key of `stats`. The map never deletes a key, so entries only appear. */
struct top_entry {
	struct top_key key;
	struct top_stats stats;            /* at the last read */
	unsigned long long prev_requests;  /* stats.lat.count at the read before */
	unsigned long long prev_bytes_out; /* stats.bytes_out at the read before */
	bool used;
};

/* The totals at one second. */
struct top_snapshot {
	unsigned long long ts_ns, requests, bytes_out;
	unsigned long long slots[HIST_SLOTS];
};

/* One entry of `inflight`: its key and value. */
struct top_request {
	unsigned long long id;
	struct top_flight flight;
};

struct top_table {
	unsigned int max_keys;  /* -K: room in `stats` */
	unsigned int window_s;  /* -T */
	unsigned int window_n;  /* -H, 0: the recent window is -T's */
	unsigned long long start_ns;     /* CLOCK_MONOTONIC when tracing began */
	unsigned long long read_ns;      /* the last read of every map, 0: none */
	unsigned long long prev_read_ns; /* the read before, 0: none */
	struct top_totals totals;        /* at the last read or snapshot */
	struct top_entry *entries;       /* open addressing over nslots */
	size_t nslots, nentries;
	struct top_snapshot *snapshots;  /* ring of nsnapshots */
	size_t nsnapshots, snapshots_taken;
	unsigned long long next_snapshot_ns;
	struct top_event *recent;        /* ring of window_n (-H) */
	size_t nrecent, recent_next;
	struct top_request *in_flight;   /* oldest first, TOP_MAX_INFLIGHT room */
	size_t nin_flight;
	unsigned long long gone;         /* in-flight entries of dead processes */
};

/* A window: "since start", "last 30s" or "last 1000 req". */
struct top_window {
	char name[24];
	unsigned long long requests, bytes_out;
	double seconds;
	struct hist lat;
};

/* Allocate a zeroed table for -K max_keys, -T window_s and -H window_n (0:
 * none): entries for twice max_keys (rounded up to a power of two), a
 * snapshot a second for window_s + 2 seconds, in-flight room for the whole
 * `inflight` map. Returns 0 or -ENOMEM (free the table either way). */
int top_table_alloc(struct top_table *t, unsigned int max_keys, unsigned int window_s,
		    unsigned int window_n);

void top_table_free(struct top_table *t);

/* Tracing began at start_ns: the first snapshot is due a second later. */
void top_table_start(struct top_table *t, unsigned long long start_ns);

/* True while under half of the slots are used: top_table_update() needs a
 * free slot to end its probe for a new key. */
bool top_table_has_room(const struct top_table *t);

/* Record a key's counters as just read from `stats` (the key is added if
 * new and top_table_has_room(), else left out; a known key is always
 * updated; the old counters become the ones rates are measured from). The
 * BPF side bumps the slots and the count separately: the count is
 * recomputed from the slots. */
void top_table_update(struct top_table *t, const struct top_key *k, const struct top_stats *v);

/* True when the once-a-second snapshot is due at now; moves the schedule on
 * a second (or to now + 1 s after a stall of more than a second). */
bool top_table_snapshot_due(struct top_table *t, unsigned long long now);

/* Keep t->totals as the snapshot at now (the ring drops the oldest). */
void top_table_snapshot(struct top_table *t, unsigned long long now);

/* A ring_buffer_sample_fn for `events` (-H): keeps the struct top_event in
 * data in the ring of the last window_n, t being the struct top_table.
 * Returns 0. */
int top_table_add_event(void *t, void *data, size_t size);

/* Sort t->in_flight oldest first. */
void top_table_sort_in_flight(struct top_table *t);

/* Seconds between the last read and the one before (or the start); rates
 * are the growth over it. 0 before any read. */
double top_table_interval_s(const struct top_table *t);

/* The windows at now: w[0] since start, w[1] the last -T seconds (or since
 * start while no snapshot is that old) or the last -H requests. Percentiles
 * of the -T window are capped at its highest slot's upper edge (its exact max
 * is unknown) and its lat.sum is 0. */
void top_table_windows(const struct top_table *t, unsigned long long now, struct top_window w[2]);

#endif /* TOP_TABLE_H */
