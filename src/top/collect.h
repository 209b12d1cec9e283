/*
 * collect.h - `httpdtrace top` reads top.bpf.c's maps into a struct
 * top_table: `totals` (and a snapshot of them each second), `stats`,
 * `inflight`, and with -H the `events` ring buffer.
 */
#ifndef TOP_COLLECT_H
#define TOP_COLLECT_H

#include "table.h"

struct ring_buffer;

struct top_collect {
	int totals_fd, stats_fd, inflight_fd;
	struct ring_buffer *events; /* -H: the consumer of `events` (top_table_add_event) */
	struct top_table *table;
};

/* Often (every TRACE_POLL_MS): drain `events` into the table, then, once a
 * second, snapshot the totals. Returns the time it used (CLOCK_MONOTONIC
 * ns). */
unsigned long long top_collect_poll(struct top_collect *c);

/* When a screen or report is due: read `totals`, every key of `stats` and
 * the requests in `inflight` (oldest first; an entry whose process is gone,
 * whose request-done will never come, is deleted and counted in gone), and
 * mark now as the table's last read. */
void top_collect_read(struct top_collect *c, unsigned long long now);

#endif /* TOP_COLLECT_H */
