/*
 * table.c - `httpdtrace top`'s copy of the kernel's maps (table.h):
 * the entries of `stats` in an open-addressing table, the per-second
 * snapshots of the totals, the last -H requests, the requests in flight, and
 * the "since start" and recent windows summed from them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "table.h"

int top_table_alloc(struct top_table *t, unsigned int max_keys, unsigned int window_s,
		    unsigned int window_n)
{
	memset(t, 0, sizeof(*t));
	t->max_keys = max_keys;
	t->window_s = window_s;
	t->window_n = window_n;
	t->nslots = 1;
	while (t->nslots < 2 * (size_t)max_keys)
		t->nslots <<= 1;
	t->entries = calloc(t->nslots, sizeof(*t->entries));
	t->nsnapshots = window_s + 2;
	t->snapshots = calloc(t->nsnapshots, sizeof(*t->snapshots));
	t->in_flight = calloc(TOP_MAX_INFLIGHT, sizeof(*t->in_flight));
	if (window_n)
		t->recent = calloc(window_n, sizeof(*t->recent));
	if (!t->entries || !t->snapshots || !t->in_flight || (window_n && !t->recent))
		return -ENOMEM;
	return 0;
}

void top_table_free(struct top_table *t)
{
	free(t->entries);
	free(t->snapshots);
	free(t->in_flight);
	free(t->recent);
	t->entries = NULL;
	t->snapshots = NULL;
	t->in_flight = NULL;
	t->recent = NULL;
}

void top_table_start(struct top_table *t, unsigned long long start_ns)
{
	t->start_ns = start_ns;
	t->next_snapshot_ns = start_ns + TOP_NS_PER_S;
}

/* ---------------------------------------------------------------------------
 * Entries of `stats`
 * ------------------------------------------------------------------------- */

/* h->count as the sum of the slots. */
static void recount(struct hist *h)
{
	h->count = 0;
	for (int s = 0; s < HIST_SLOTS; s++)
		h->count += h->slots[s];
}

/* FNV-1a over the whole key (its padding is zero, see top.h). */
static size_t key_hash(const struct top_key *k)
{
	const unsigned char *p = (const unsigned char *)k;
	unsigned long long h = 1469598103934665603ULL;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return (size_t)h;
}

bool top_table_has_room(const struct top_table *t)
{
	return t->nentries < t->nslots / 2;
}

void top_table_update(struct top_table *t, const struct top_key *k, const struct top_stats *v)
{
	size_t i = key_hash(k) & (t->nslots - 1);
	struct top_entry *e;

	while (t->entries[i].used && memcmp(&t->entries[i].key, k, sizeof(*k)))
		i = (i + 1) & (t->nslots - 1);
	e = &t->entries[i];
	if (!e->used) {
		if (!top_table_has_room(t))
			return; /* a new key, and the table is half full: not kept */
		e->used = true;
		e->key = *k;
		t->nentries++;
	}
	e->prev_requests = e->stats.lat.count;
	e->prev_bytes_out = e->stats.bytes_out;
	e->stats = *v;
	recount(&e->stats.lat);
}

/* ---------------------------------------------------------------------------
 * Snapshots, recent requests, requests in flight
 * ------------------------------------------------------------------------- */
bool top_table_snapshot_due(struct top_table *t, unsigned long long now)
{
	if (now < t->next_snapshot_ns)
		return false;
	t->next_snapshot_ns += TOP_NS_PER_S;
	if (t->next_snapshot_ns <= now) /* a long stall: realign */
		t->next_snapshot_ns = now + TOP_NS_PER_S;
	return true;
}

void top_table_snapshot(struct top_table *t, unsigned long long now)
{
	struct top_snapshot *s = &t->snapshots[t->snapshots_taken++ % t->nsnapshots];

	s->ts_ns = now;
	s->requests = t->totals.lat.count;
	s->bytes_out = t->totals.bytes_out;
	memcpy(s->slots, t->totals.lat.slots, sizeof(s->slots));
}

int top_table_add_event(void *table, void *data, size_t size)
{
	struct top_table *t = table;

	if (size < sizeof(struct top_event))
		return 0;
	memcpy(&t->recent[t->recent_next++ % t->window_n], data, sizeof(struct top_event));
	if (t->nrecent < t->window_n)
		t->nrecent++;
	return 0;
}

static int request_cmp(const void *a, const void *b)
{
	const struct top_request *x = a, *y = b;

	return x->flight.start_ns < y->flight.start_ns ? -1 :
							  x->flight.start_ns > y->flight.start_ns;
}

void top_table_sort_in_flight(struct top_table *t)
{
	qsort(t->in_flight, t->nin_flight, sizeof(*t->in_flight), request_cmp);
}

/* ---------------------------------------------------------------------------
 * Windows: since start, and the recent one (-T seconds or -H requests)
 * ------------------------------------------------------------------------- */
double top_table_interval_s(const struct top_table *t)
{
	unsigned long long since = t->prev_read_ns ? t->prev_read_ns : t->start_ns;

	return t->read_ns > since ? (double)(t->read_ns - since) / TOP_NS_PER_S : 0;
}

static void window_all(const struct top_table *t, unsigned long long now, struct top_window *w)
{
	snprintf(w->name, sizeof(w->name), "since start");
	w->lat = t->totals.lat;
	recount(&w->lat);
	w->requests = w->lat.count;
	w->bytes_out = t->totals.bytes_out;
	w->seconds = (double)(now - t->start_ns) / TOP_NS_PER_S;
}

/* The totals minus the newest snapshot taken at least window_s ago (none
 * yet: everything since start). */
static void window_time(const struct top_table *t, unsigned long long now, struct top_window *w)
{
	const struct top_snapshot *base = NULL;
	unsigned long long base_ts = t->start_ns, base_bytes = 0;
	int top = -1;

	window_all(t, now, w);
	snprintf(w->name, sizeof(w->name), "last %us", t->window_s);
	for (size_t i = 0; i < t->nsnapshots && i < t->snapshots_taken; i++) {
		const struct top_snapshot *s = &t->snapshots[i];

		if (s->ts_ns + t->window_s * TOP_NS_PER_S <= now && (!base || s->ts_ns > base->ts_ns))
			base = s;
	}
	if (base) {
		base_ts = base->ts_ns;
		base_bytes = base->bytes_out;
		w->lat.count = 0;
		for (int s = 0; s < HIST_SLOTS; s++) {
			w->lat.slots[s] -= base->slots[s] < w->lat.slots[s] ? base->slots[s] :
									      w->lat.slots[s];
			w->lat.count += w->lat.slots[s];
			if (w->lat.slots[s])
				top = s;
		}
		/* the window's max is only known to its slot */
		if (top >= 0 && hist_slot_high((unsigned int)top) < w->lat.max)
			w->lat.max = hist_slot_high((unsigned int)top);
		w->lat.sum = 0; /* unknown; no average is shown for a window */
	}
	w->requests = w->lat.count;
	w->bytes_out = w->bytes_out > base_bytes ? w->bytes_out - base_bytes : 0;
	w->seconds = (double)(now - base_ts) / TOP_NS_PER_S;
}

static void window_requests(const struct top_table *t, unsigned long long now,
			    struct top_window *w)
{
	unsigned long long oldest = now;

	memset(w, 0, sizeof(*w));
	snprintf(w->name, sizeof(w->name), "last %u req", t->window_n);
	for (size_t i = 0; i < t->nrecent; i++) {
		const struct top_event *e = &t->recent[i];

		hist_add(&w->lat, e->latency_us);
		w->bytes_out += e->bytes_out;
		if (e->ts_ns < oldest)
			oldest = e->ts_ns;
	}
	w->requests = t->nrecent;
	w->seconds = (double)(now - (t->nrecent ? oldest : t->start_ns)) / TOP_NS_PER_S;
}

void top_table_windows(const struct top_table *t, unsigned long long now, struct top_window w[2])
{
	window_all(t, now, &w[0]);
	if (t->window_n)
		window_requests(t, now, &w[1]);
	else
		window_time(t, now, &w[1]);
}
