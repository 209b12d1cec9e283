// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * conns.bpf.c - kernel side of `httpdtrace conns`: conn-start keeps each
 * connection's addresses by conn id; conn-done either streams one event per
 * closed connection with them, or (-S, `summary`) only adds to the interval's
 * counters and its requests-per-connection histogram.
 */
#include "vmlinux.h"
#define TRACE_EVENTS
#include "lib/trace.bpf.h"
#include "lib/hist_shared.h"
#include "conns.h"

const volatile bool summary = false;

__u32 gen = 0; /* -S: generation being filled; user space flips it */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CONN_MAX_OPEN);
	__type(key, __u64);
	__type(value, struct conn_start);
} open_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct conn_summary);
} summaries SEC(".maps");

SEC("usdt")
int BPF_USDT(conn__start, __u64 conn_id, const char *peer_ip, int peer_port, const char *local_ip,
	     int local_port)
{
	struct conn_start cs = {};
	struct conn_summary *s;
	__u32 g = gen & 1;

	if (!trace_pid_match())
		return 0;
	cs.ts_ns = bpf_ktime_get_ns();
	cs.peer_port = peer_port;
	cs.local_port = local_port;
	TRACE_STR(cs.peer_ip, peer_ip);
	TRACE_STR(cs.local_ip, local_ip);
	bpf_map_update_elem(&open_conns, &conn_id, &cs, BPF_ANY);
	if (summary && (s = bpf_map_lookup_elem(&summaries, &g)))
		__sync_fetch_and_add(&s->accepts, 1);
	return 0;
}

static __always_inline void summary_add(__u32 requests, __u64 bytes_in, __u64 bytes_out,
					__u32 reason)
{
	__u32 g = gen & 1;
	struct conn_summary *s = bpf_map_lookup_elem(&summaries, &g);

	if (!s)
		return;
	__sync_fetch_and_add(&s->closes, 1);
	__sync_fetch_and_add(&s->requests, requests);
	__sync_fetch_and_add(&s->bytes_in, bytes_in);
	__sync_fetch_and_add(&s->bytes_out, bytes_out);
	__sync_fetch_and_add(&s->ends[(__u32)reason < CONN_REASONS ? reason : 0], 1);
	hist_add_atomic(&s->reqs, requests);
}

SEC("usdt")
int BPF_USDT(conn__done, __u64 conn_id, __u32 requests, __u64 duration_us, __u64 bytes_in,
	     __u64 bytes_out, int reason)
{
	struct conn_start *cs;
	struct conn_event *e;

	if (!trace_pid_match())
		return 0;
	if (summary) {
		summary_add(requests, bytes_in, bytes_out, reason);
		bpf_map_delete_elem(&open_conns, &conn_id);
		return 0;
	}
	e = trace_reserve(struct conn_event);
	if (!e)
		goto out;
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->conn_id = conn_id;
	e->requests = requests;
	e->duration_us = duration_us;
	e->bytes_in = bytes_in;
	e->bytes_out = bytes_out;
	e->reason = reason;
	cs = bpf_map_lookup_elem(&open_conns, &conn_id);
	e->start_seen = cs != NULL;
	if (cs) {
		e->peer_port = cs->peer_port;
		e->local_port = cs->local_port;
		__builtin_memcpy(e->peer_ip, cs->peer_ip, sizeof(e->peer_ip));
		__builtin_memcpy(e->local_ip, cs->local_ip, sizeof(e->local_ip));
	} else {
		e->peer_port = e->local_port = 0;
		e->peer_ip[0] = e->local_ip[0] = '\0';
	}
	trace_submit(e);
out:
	bpf_map_delete_elem(&open_conns, &conn_id);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
