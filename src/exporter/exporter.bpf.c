// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * exporter.bpf.c - kernel side of `httpdtrace exporter`: each finished
 * request adds to its label set's counters and histograms (exporter.h);
 * request-start/-done keep the requests in flight, conn-start/-done the
 * connections. User space only reads these maps, at each scrape.
 */
#include "vmlinux.h"
#include "lib/trace.bpf.h"
#include "lib/phase_track.bpf.h"
#include "exporter.h"

/* Request label sets: per CPU, at most --max-series of them. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, EXP_MAX_SERIES); /* exporter.c applies --max-series */
	__type(key, struct exp_req_key);
	__type(value, struct exp_req_val);
} reqs SEC(".maps");

/* The label sets that did not fit. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exp_req_val);
} req_other SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exp_totals);
} totals SEC(".maps");

/* The requests in flight (struct exp_inflight). */
struct exp_inflight inflight[EXP_INFLIGHT_SLOTS] = {};

/* The dashboard (exporter.h): how many pages are open (dashboard.c sets
 * it), the in-flight requests' strings, and top's table per (vhost, uri). */
__u32 dash_viewers = 0;
struct exp_flight_text inflight_text[EXP_INFLIGHT_SLOTS] = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EXP_DASH_KEYS);
	__type(key, struct exp_dash_key);
	__type(value, struct hist);
} dash_uris SEC(".maps");

/* A key does not fit on the stack beside the request info. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exp_dash_key);
} dash_key_scratch SEC(".maps");

static const struct hist zero_hist;

/* Connection id -> when it was accepted. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EXP_MAX_OPEN);
	__type(key, __u64);
	__type(value, __u64);
} open_conns SEC(".maps");

/* --routes, set before load (exporter.c). */
const volatile __u32 nroutes = 0;
const volatile struct exp_route routes[EXP_MAX_ROUTES] = {};

static const struct exp_req_val zero_val;
static const __u64 dur_bounds[EXP_DUR_BUCKETS] = EXP_DUR_BOUNDS_US;
static const __u64 size_bounds[EXP_SIZE_BUCKETS] = EXP_SIZE_BOUNDS;
static const __u64 conn_dur_bounds[EXP_CONN_DUR_BUCKETS] = EXP_CONN_DUR_BOUNDS_US;
static const __u64 conn_reqs_bounds[EXP_CONN_REQS_BUCKETS] = EXP_CONN_REQS_BOUNDS;

/* Method names as 8 bytes each (NUL-padded), for an exact compare. */
static const char method_names[EXP_METHODS][8] = {
	"", "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE",
};

/* The first bucket whose bound is >= v; n (the +Inf bucket, which is the
 * count) if none. */
static __always_inline __u32 bucket_of(const __u64 *bounds, __u32 n, __u64 v)
{
	for (__u32 i = 0; i < n; i++)
		if (v <= bounds[i])
			return i;
	return n;
}

#define BUCKET_ADD(buckets, bounds, n, v)                                      \
	do {                                                                   \
		__u32 b_ = bucket_of((bounds), (n), (v));                      \
		if (b_ < (n))                                                  \
			__sync_fetch_and_add(&(buckets)[b_], 1);               \
	} while (0)

static __always_inline __u8 method_index(const char *m)
{
	for (int i = 1; i < EXP_METHODS; i++) {
		bool same = true;

		for (int j = 0; j < 8; j++) {
			if (m[j] != method_names[i][j]) {
				same = false;
				break;
			}
			if (!m[j])
				break;
		}
		if (same)
			return i;
	}
	return 0;
}

/* A lowercase hex digit's value, or 16 when c is none. */
static __always_inline __u8 hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return 16;
}

/* The trace-id string of a version-2 info struct (32 hex digits or "") as
 * 16 bytes in out; all zero when absent or not hex. */
static __always_inline void trace_id_read(__u8 out[16], const struct httpd_request_info *info)
{
	char hex[STR_TRACE_ID] = {};
	__u8 hi, lo;

	__builtin_memset(out, 0, 16);
	if (info->version < 2 || TRACE_STR(hex, info->trace_id) != STR_TRACE_ID)
		return;
#pragma unroll
	for (int i = 0; i < 16; i++) {
		hi = hex_value(hex[2 * i]);
		lo = hex_value(hex[2 * i + 1]);
		if ((hi | lo) > 15) {
			__builtin_memset(out, 0, 16);
			return;
		}
		out[i] = hi << 4 | lo;
	}
}

static __always_inline __u8 protocol_index(const char *p)
{
	/* "HTTP/1.0", "HTTP/1.1", "HTTP/2.0" */
	if (p[0] != 'H' || p[1] != 'T' || p[2] != 'T' || p[3] != 'P' || p[4] != '/' ||
	    p[6] != '.' || p[8])
		return 0;
	if (p[5] == '1' && p[7] == '0')
		return 1;
	if (p[5] == '1' && p[7] == '1')
		return 2;
	if (p[5] == '2' && p[7] == '0')
		return 3;
	return 0;
}

struct route_match {
	char uri[EXP_ROUTE_LEN + 1];   /* the uri's first bytes, NUL-terminated */
	__u8 route;
};

/* bpf_loop callback: does route i match? (1 stops the loop) */
static long route_try(__u32 i, struct route_match *m)
{
	const volatile struct exp_route *r;
	__u32 len;

	if (i >= EXP_MAX_ROUTES)
		return 1;
	r = &routes[i];
	len = r->len;
	if (len >= EXP_ROUTE_LEN)
		return 0;
	for (__u32 j = 0; j < len && j < EXP_ROUTE_LEN; j++)
		if (m->uri[j] != r->path[j])
			return 0;
	if (!r->prefix && m->uri[len])
		return 0;
	m->route = i + 1;
	return 1;
}

/* A page is open: the strings it shows of a request in flight, written
 * before the slot's start_ns (user space reads a slot once that is set, and
 * takes the strings only when their id is the slot's). */
static __always_inline void flight_text(struct exp_flight_text *x, struct pt_regs *ctx, __u64 id)
{
	TRACE_STR(x->method, trace_arg(ctx, 2));
	TRACE_STR(x->uri, trace_arg(ctx, 3));
	TRACE_STR(x->vhost, trace_arg(ctx, 5));
	x->id = id;
}

/* A page is open: the request into top's table of (vhost, uri). */
static __always_inline void dash_add(const struct httpd_request_info *info, __u64 latency_us)
{
	struct exp_dash_key *k;
	struct exp_totals *t;
	struct hist *h;
	__u32 zero = 0;

	k = bpf_map_lookup_elem(&dash_key_scratch, &zero);
	if (!k)
		return;
	__builtin_memset(k, 0, sizeof(*k)); /* the whole key is hashed */
	TRACE_STR(k->vhost, info->vhost);
	TRACE_STR(k->uri, info->uri);
	h = bpf_map_lookup_elem(&dash_uris, k);
	if (!h) {
		bpf_map_update_elem(&dash_uris, k, &zero_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&dash_uris, k);
	}
	if (h) {
		hist_add_atomic(h, latency_us);
	} else {
		t = bpf_map_lookup_elem(&totals, &zero);
		if (t)
			__sync_fetch_and_add(&t->dash_overflow, 1);
	}
}

SEC("usdt")
int request__start(struct pt_regs *ctx)
{
	__u64 id = trace_arg(ctx, 0), now = bpf_ktime_get_ns();
	struct exp_totals *t;
	__u32 zero = 0;

	if (!trace_pid_match() || !id)
		return 0;
	for (__u32 i = 0; i < EXP_INFLIGHT_PROBE; i++) {
		struct exp_inflight *s = &inflight[(id + i) & (EXP_INFLIGHT_SLOTS - 1)];

		if (__sync_val_compare_and_swap(&s->id, 0, id) == 0) {
			if (dash_viewers)
				flight_text(&inflight_text[(id + i) & (EXP_INFLIGHT_SLOTS - 1)],
					    ctx, id);
			s->tgid = bpf_get_current_pid_tgid() >> 32;
			s->start_ns = now;
			return 0;
		}
	}
	t = bpf_map_lookup_elem(&totals, &zero);
	if (t)
		__sync_fetch_and_add(&t->untracked, 1);
	return 0;
}

/* Free the slot request id took at its start, if it took one. */
static __always_inline void inflight_done(__u64 id)
{
	for (__u32 i = 0; i < EXP_INFLIGHT_PROBE; i++) {
		struct exp_inflight *s = &inflight[(id + i) & (EXP_INFLIGHT_SLOTS - 1)];

		if (s->id == id) {
			s->start_ns = 0;
			__sync_val_compare_and_swap(&s->id, id, 0);
			return;
		}
	}
}

/* Everything from the info struct (its id, status, latency, method and uri
 * are the probe's other arguments): one argument fetched, not six. */
SEC("usdt")
int request__done(struct pt_regs *ctx)
{
	struct httpd_request_info info;
	struct exp_req_key k = {};
	struct exp_req_val *v;
	struct exp_totals *t;
	char buf[16] = {};
	__u32 zero = 0, b;
	__u64 now, id, latency_us;
	int status;

	if (!trace_arg_struct(ctx, 5, &info, sizeof(info)))
		return 0;
	id = info.id;
	status = info.status;
	latency_us = info.latency_us;
	inflight_done(id);
	k.status = status > 0 && status < 1000 ? status : 0;
	TRACE_STR(buf, info.method);
	k.method = method_index(buf);
	__builtin_memset(buf, 0, sizeof(buf));
	TRACE_STR(buf, info.protocol);
	k.protocol = protocol_index(buf);
	TRACE_STR(k.vhost, info.vhost);
	if (nroutes) {
		struct route_match m = {};

		TRACE_STR(m.uri, info.uri);
		bpf_loop(nroutes, route_try, &m, 0);
		k.route = m.route;
	}

	v = bpf_map_lookup_elem(&reqs, &k);
	if (!v) {
		bpf_map_update_elem(&reqs, &k, &zero_val, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&reqs, &k);
	}
	if (!v) { /* full: the overflow series, counted */
		v = bpf_map_lookup_elem(&req_other, &zero);
		t = bpf_map_lookup_elem(&totals, &zero);
		if (t)
			__sync_fetch_and_add(&t->folded, 1);
		if (!v)
			return 0;
	}
	__sync_fetch_and_add(&v->count, 1);
	__sync_fetch_and_add(&v->duration_us, latency_us);
	b = bucket_of(dur_bounds, EXP_DUR_BUCKETS, latency_us);
	if (b < EXP_DUR_BUCKETS)
		__sync_fetch_and_add(&v->duration[b], 1);
	/* this CPU's copy (user space takes the newest), at most once a second:
	 * Prometheus reads it no more often, and the trace id costs a read */
	now = bpf_ktime_get_ns();
	if (b <= EXP_DUR_BUCKETS && now - v->exemplar[b].ts_ns >= EXP_EXEMPLAR_NS) {
		v->exemplar[b].id = id;
		v->exemplar[b].latency_us = latency_us;
		v->exemplar[b].ts_ns = now;
		trace_id_read(v->exemplar[b].trace_id, &info);
	}
	__sync_fetch_and_add(&v->response_bytes, info.bytes_out);
	BUCKET_ADD(v->response, size_bounds, EXP_SIZE_BUCKETS, info.bytes_out);
	__sync_fetch_and_add(&v->request_bytes, info.bytes_in);
	BUCKET_ADD(v->request, size_bounds, EXP_SIZE_BUCKETS, info.bytes_in);
	if (dash_viewers)
		dash_add(&info, latency_us);
	return 0;
}

/* The request is over: each phase it ran into its histogram. */
static __always_inline void phases_end(struct phase_req *r)
{
	struct exp_totals *t;
	__u32 zero = 0, b;
	__u64 us;

	t = bpf_map_lookup_elem(&totals, &zero);
	if (!t)
		return;
	for (__u32 p = 0; p < PHASES_N; p++) {
		if (!(r->ran & (1U << p)))
			continue;
		us = r->ns[p] / 1000;
		__sync_fetch_and_add(&t->phase_count[p], 1);
		__sync_fetch_and_add(&t->phase_us[p], us);
		b = bucket_of(dur_bounds, EXP_DUR_BUCKETS, us);
		if (b < EXP_DUR_BUCKETS)
			__sync_fetch_and_add(&t->phase[p][b], 1);
	}
}

SEC("usdt")
int BPF_USDT(request__phase, __u64 id, int phase, const char *name, const char *uri,
	     __u64 elapsed_us)
{
	struct phase_req *r;

	if (!trace_pid_match())
		return 0;
	r = phase_track(id, phase, elapsed_us);
	if (r) {
		phases_end(r);
		phase_track_done(id);
	}
	return 0;
}

SEC("usdt")
int BPF_USDT(conn__start, __u64 conn_id, const char *peer_ip, int peer_port, const char *local_ip,
	     int local_port)
{
	__u64 now = bpf_ktime_get_ns();
	struct exp_totals *t;
	__u32 zero = 0;

	if (!trace_pid_match())
		return 0;
	bpf_map_update_elem(&open_conns, &conn_id, &now, BPF_ANY);
	t = bpf_map_lookup_elem(&totals, &zero);
	if (t)
		__sync_fetch_and_add(&t->conns_opened, 1);
	return 0;
}

SEC("usdt")
int BPF_USDT(conn__done, __u64 conn_id, __u32 requests, __u64 duration_us, __u64 bytes_in,
	     __u64 bytes_out, int reason)
{
	struct exp_totals *t;
	__u32 zero = 0, r = (__u32)reason < EXP_REASONS ? (__u32)reason : 0;

	if (!trace_pid_match())
		return 0;
	/* Only connections seen opening: opened - closed is what is open. */
	if (!bpf_map_lookup_elem(&open_conns, &conn_id))
		return 0;
	bpf_map_delete_elem(&open_conns, &conn_id);
	t = bpf_map_lookup_elem(&totals, &zero);
	if (!t)
		return 0;
	if (r < EXP_REASONS)
		__sync_fetch_and_add(&t->conns_closed[r], 1);
	__sync_fetch_and_add(&t->conn_duration_us, duration_us);
	BUCKET_ADD(t->conn_duration, conn_dur_bounds, EXP_CONN_DUR_BUCKETS, duration_us);
	__sync_fetch_and_add(&t->conn_requests, requests);
	BUCKET_ADD(t->conn_requests_hist, conn_reqs_bounds, EXP_CONN_REQS_BUCKETS, requests);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
