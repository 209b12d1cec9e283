// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * top.bpf.c - kernel side of `httpdtrace top`. Counting happens here:
 *
 *   totals    one entry: bytes, requests per status class, a latency
 *             histogram, and how many requests overflowed the maps below
 *   stats     bounded hash: per (uri, client, vhost, handler, method,
 *             status) the bytes and a latency histogram; when it is full
 *             the request still counts in totals and in totals.overflow
 *   inflight  bounded hash: request id -> start time, pid, client, method,
 *             uri; request-start inserts, request-done deletes
 *   events    (only with -H) one small record per finished request, without
 *             wake-ups, for the "last N requests" window
 *
 * Counters are bumped with atomic adds (hist_add_atomic): several CPUs
 * finish requests of the same key at once.
 */
#include "vmlinux.h"
#define TRACE_EVENTS
#include "lib/trace.bpf.h"
#include "mod_dtprovider.h"
#include "top.h"

const volatile bool recent_events = false; /* -H: stream struct top_event */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct top_totals);
} totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TOP_MAX_KEYS); /* top.c applies -K */
	__type(key, struct top_key);
	__type(value, struct top_stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TOP_MAX_INFLIGHT);
	__type(key, __u64);
	__type(value, struct top_flight);
} inflight SEC(".maps");

/* Scratch space: a key or a flight record does not fit on the 512-byte stack
 * next to the request info. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct top_key);
} key_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct top_flight);
} flight_scratch SEC(".maps");

static const struct top_stats zero_stats; /* the first value of a new key */

SEC("usdt")
int BPF_USDT(request__start, __u64 id, __u64 conn_id, const char *method, const char *uri,
	     const char *client_ip, const char *vhost)
{
	struct top_totals *tot;
	struct top_flight *f;
	__u32 zero = 0;
	__u64 pid_tgid;

	if (!trace_pid_match())
		return 0;
	f = bpf_map_lookup_elem(&flight_scratch, &zero);
	if (!f)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	f->start_ns = bpf_ktime_get_ns();
	f->conn_id = conn_id;
	f->pid = pid_tgid >> 32;
	f->tid = (__u32)pid_tgid;
	TRACE_STR(f->method, method);
	TRACE_STR(f->client, client_ip);
	TRACE_STR(f->uri, uri);
	if (bpf_map_update_elem(&inflight, &id, f, BPF_NOEXIST)) {
		tot = bpf_map_lookup_elem(&totals, &zero);
		if (tot)
			__sync_fetch_and_add(&tot->inflight_overflow, 1);
	}
	return 0;
}

/* Everything from the info struct (its id, status and latency are the
 * probe's other arguments): one argument fetched, not six. */
SEC("usdt")
int request__done(struct pt_regs *ctx)
{
	struct httpd_request_info info;
	struct top_totals *tot;
	struct top_stats *s;
	struct top_key *k;
	__u32 zero = 0;
	unsigned int class;
	__u64 id, latency_us;
	int status;

	if (!trace_arg_struct(ctx, 5, &info, sizeof(info)))
		return 0;
	id = info.id;
	status = info.status;
	latency_us = info.latency_us;
	bpf_map_delete_elem(&inflight, &id);
	tot = bpf_map_lookup_elem(&totals, &zero);
	k = bpf_map_lookup_elem(&key_scratch, &zero);
	if (!tot || !k)
		return 0;

	/* no division: the verifier loses an index's bounds through one */
	class = status < 100 || status > 599 ? 0 : status < 200 ? 1 : status < 300 ? 2 :
		status < 400 ? 3 : status < 500 ? 4 : 5;
	__sync_fetch_and_add(&tot->classes[class], 1);
	__sync_fetch_and_add(&tot->bytes_out, info.bytes_out);
	__sync_fetch_and_add(&tot->bytes_in, info.bytes_in);
	hist_add_atomic(&tot->lat, latency_us);

	__builtin_memset(k, 0, sizeof(*k)); /* the whole key is hashed */
	TRACE_STR(k->uri, info.uri);
	TRACE_STR(k->client, info.useragent_ip);
	TRACE_STR(k->vhost, info.vhost);
	TRACE_STR(k->handler, info.handler);
	TRACE_STR(k->method, info.method);
	k->status = status;
	s = bpf_map_lookup_elem(&stats, k);
	if (!s) {
		/* a lost race with another CPU inserting the same key is fine:
		 * the lookup after finds its entry */
		bpf_map_update_elem(&stats, k, &zero_stats, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&stats, k);
	}
	if (s) {
		__sync_fetch_and_add(&s->bytes_out, info.bytes_out);
		__sync_fetch_and_add(&s->bytes_in, info.bytes_in);
		hist_add_atomic(&s->lat, latency_us);
	} else {
		__sync_fetch_and_add(&tot->overflow, 1);
	}

	if (recent_events) {
		struct top_event *e = trace_reserve(struct top_event);

		if (e) {
			e->ts_ns = bpf_ktime_get_ns();
			e->latency_us = latency_us;
			e->bytes_out = info.bytes_out;
			e->status = status;
			e->pad = 0;
			trace_submit(e);
		}
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
