/*
 * top.h - what `httpdtrace top`'s BPF side (top.bpf.c) and user side (top.c)
 * share: the map layouts. Strings are copied out of the traced process and
 * cut to their array size minus one; unused bytes are zero, since the whole
 * struct top_key is a hash key.
 */
#ifndef TOP_H
#define TOP_H

#include "lib/hist_shared.h"
#include "lib/sizes.h"

#define TOP_MAX_KEYS 8192      /* default size of `stats` (-K changes it) */
#define TOP_MAX_INFLIGHT 4096  /* size of `inflight` */
#define TOP_CLASSES 6          /* status classes: 0 other, 1 1xx ... 5 5xx */

/* One row of the kernel's table: every field the screen can group by, so
 * user space can group, filter and drill down without asking BPF again. */
struct top_key {
	char uri[STR_TOP_URI];
	char client[STR_IP];       /* useragent_ip */
	char vhost[STR_NAME];
	char handler[STR_TOP_HANDLER];
	char method[STR_METHOD];
	__s32 status;
	__u32 pad;
};

/* Its counters: lat.count is the number of requests, lat.sum their total
 * latency (µs), lat.slots their log2 histogram. */
struct top_stats {
	__u64 bytes_out;
	__u64 bytes_in;
	struct hist lat;
};

/* Totals over every traced request, whether or not its key found room. */
struct top_totals {
	__u64 bytes_out;
	__u64 bytes_in;
	__u64 classes[TOP_CLASSES];
	__u64 overflow;          /* requests whose key did not fit in `stats` */
	__u64 inflight_overflow; /* request-starts that did not fit in `inflight` */
	struct hist lat;
};

/* A request in flight: inserted at request-start, deleted at request-done. */
struct top_flight {
	__u64 start_ns;          /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u64 conn_id;
	__u32 pid, tid;
	char method[STR_METHOD];
	char client[STR_IP];
	char uri[STR_TOP_URI];
};

/* The `events` record of each finished request, only with -H (the last N
 * requests window needs each latency, in order). */
struct top_event {
	__u64 ts_ns;
	__u64 latency_us;
	__u64 bytes_out;
	__s32 status;
	__u32 pad;
};

#endif /* TOP_H */
