/*
 * collect.c - `httpdtrace top`'s reads of the kernel's maps
 * (collect.h). The kernel counts on its own: nothing here waits for it,
 * and what is read only replaces the table's copy.
 */
#include <errno.h>
#include <signal.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collect.h"
#include "lib/trace.h"

static int read_totals(struct top_collect *c)
{
	__u32 zero = 0;
	struct top_totals v;

	if (bpf_map_lookup_elem(c->totals_fd, &zero, &v))
		return -errno;
	c->table->totals = v;
	return 0;
}

static void read_stats(struct top_collect *c)
{
	struct top_key k, next;
	struct top_stats v;
	void *prev = NULL;

	while (!bpf_map_get_next_key(c->stats_fd, prev, &next)) {
		/* from half full on, known keys still update; new ones wait */
		if (!bpf_map_lookup_elem(c->stats_fd, &next, &v))
			top_table_update(c->table, &next, &v);
		k = next;
		prev = &k;
	}
}

static void read_inflight(struct top_collect *c)
{
	struct top_table *t = c->table;
	__u64 k, next, *prev = NULL;
	struct top_flight f;

	t->nin_flight = 0;
	while (!bpf_map_get_next_key(c->inflight_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(c->inflight_fd, &next, &f) ||
		    t->nin_flight >= TOP_MAX_INFLIGHT)
			continue;
		if (kill((pid_t)f.pid, 0) && errno == ESRCH) {
			if (!bpf_map_delete_elem(c->inflight_fd, &next))
				t->gone++;
			continue;
		}
		t->in_flight[t->nin_flight].id = next;
		t->in_flight[t->nin_flight++].flight = f;
	}
	top_table_sort_in_flight(t);
}

void top_collect_read(struct top_collect *c, unsigned long long now)
{
	read_totals(c);
	read_stats(c);
	read_inflight(c);
	c->table->prev_read_ns = c->table->read_ns;
	c->table->read_ns = now;
}

unsigned long long top_collect_poll(struct top_collect *c)
{
	unsigned long long now;

	if (c->events)
		ring_buffer__consume(c->events);
	now = trace_now_ns();
	if (top_table_snapshot_due(c->table, now) && !read_totals(c))
		top_table_snapshot(c->table, now);
	return now;
}
