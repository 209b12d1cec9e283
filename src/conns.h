/*
 * conns.h - types `httpdtrace conns` shares between conns.bpf.c and conns.c:
 * the addresses kept from conn-start until conn-done, the event streamed per
 * closed connection, and the per-interval summary counters (-S).
 */
#ifndef CONNS_H
#define CONNS_H

#include "lib/sizes.h"

#define CONN_MAX_OPEN 65536 /* connections followed at once (LRU beyond) */
#define CONN_REASONS 6      /* conn-done's reasons 0..5 (HTTPD_CONN_END_*) */

/* What conn-start said, kept by conn id until conn-done. */
struct conn_start {
	__u64 ts_ns;
	__u16 peer_port, local_port;
	char peer_ip[STR_IP];
	char local_ip[STR_IP];
};

/* One closed connection. start_seen is 0 when its conn-start was not seen
 * (accepted before httpdtrace attached, or forgotten past CONN_MAX_OPEN):
 * the addresses are then empty. */
struct conn_event {
	__u64 ts_ns; /* bpf_ktime_get_ns() at conn-done */
	__u64 conn_id, duration_us, bytes_in, bytes_out;
	__u32 pid, requests;
	__u32 start_seen;
	__u32 reason;      /* HTTPD_CONN_END_* (mod_dtprovider.h) */
	__u16 peer_port, local_port;
	char peer_ip[STR_IP];
	char local_ip[STR_IP];
};

/* -S: what happened in one interval (per CPU, per generation as in
 * latency.h). reqs is the histogram of requests per closed connection. */
struct conn_summary {
	__u64 accepts, closes, requests, bytes_in, bytes_out;
	__u64 ends[CONN_REASONS]; /* closes by reason; a later reason counts as 0 */
	struct hist reqs;
};

#endif /* CONNS_H */
