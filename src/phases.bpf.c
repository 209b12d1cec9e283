// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * phases.bpf.c - kernel side of `httpdtrace phases`: time each phase of each
 * request from httpd:::request-phase. A phase ends where the request's next
 * request-phase fires; read (no probe) is the first probe's elapsed_us.
 * When a request is over (phase end) its phases go into one log2 histogram
 * per phase (microseconds) and, with a threshold (-s), a request at least
 * that slow goes to the ring buffer with its breakdown.
 */
#include "vmlinux.h"
#define TRACE_EVENTS
#include "trace.bpf.h"
#include "hist_shared.h"
#include "mod_dtprovider.h"
#include "phases.h"

const volatile bool slow = false; /* -s: an event per request ... */
const volatile __u64 slow_ns = 0;  /* ... at least this slow */

struct phase_req {
	__u64 ts;       /* when the current phase began */
	__u64 ns[PHASES_N];
	__u32 phase;    /* the current phase */
	__u32 ran;
	__s32 status;
};

/* Requests under way, by id. LRU: a request whose end was never seen (the
 * module was unloaded, a child killed) is evicted eventually. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct phase_req);
} reqs SEC(".maps");

/* Two generations of one histogram per phase (index gen * PHASES_N +
 * phase): user space flips `gen`, then reads and zeroes the generation no
 * longer filled, so no request is lost between reports. */
__u32 gen = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * PHASES_N);
	__type(key, __u32);
	__type(value, struct hist);
} hists SEC(".maps");

static __always_inline void hist_put(__u32 phase, __u64 v)
{
	__u32 i = (gen & 1) * PHASES_N + phase;
	struct hist *h = bpf_map_lookup_elem(&hists, &i);

	if (h)
		hist_add_atomic(h, v);
}

/* The request is over: histograms, and the slow-request event. */
static __always_inline void req_end(__u64 id, struct phase_req *r, const char *uri)
{
	struct phases_event *e;
	__u64 total = 0;
	__u64 pid_tgid;

	for (__u32 p = 0; p < PHASES_N; p++) {
		if (!(r->ran & (1U << p)))
			continue;
		total += r->ns[p];
		hist_put(p, r->ns[p] / 1000);
	}
	if (!slow || total < slow_ns)
		return;
	e = trace_reserve(struct phases_event);
	if (!e)
		return;
	pid_tgid = bpf_get_current_pid_tgid();
	e->id = id;
	for (__u32 p = 0; p < PHASES_N; p++)
		e->ns[p] = r->ns[p];
	e->total_ns = total;
	e->ran = r->ran;
	e->status = r->status;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	TRACE_STR(e->uri, uri);
	trace_submit(e);
}

SEC("usdt")
int BPF_USDT(request__phase, __u64 id, int phase, const char *name, const char *uri,
	     __u64 elapsed_us)
{
	__u64 now = bpf_ktime_get_ns();
	struct phase_req *r, fresh = {};

	if (!trace_pid_match())
		return 0;
	r = bpf_map_lookup_elem(&reqs, &id);
	if (!r) {
		/* Only a request seen from its first probe has a read phase. */
		if (phase != HTTPD_PHASE_TRANSLATE)
			return 0;
		fresh.ts = now;
		fresh.ns[HTTPD_PHASE_READ] = elapsed_us * 1000;
		fresh.phase = HTTPD_PHASE_TRANSLATE;
		fresh.ran = 1U << HTTPD_PHASE_READ | 1U << HTTPD_PHASE_TRANSLATE;
		bpf_map_update_elem(&reqs, &id, &fresh, BPF_ANY);
		return 0;
	}
	if (r->phase < PHASES_N)
		r->ns[r->phase] += now - r->ts;
	if (phase == HTTPD_PHASE_END) {
		req_end(id, r, uri);
		bpf_map_delete_elem(&reqs, &id);
		return 0;
	}
	r->ts = now;
	r->phase = phase;
	if (phase >= 0 && phase < PHASES_N)
		r->ran |= 1U << phase;
	return 0;
}

SEC("usdt")
int BPF_USDT(request__done, __u64 id, int status)
{
	struct phase_req *r = bpf_map_lookup_elem(&reqs, &id);

	if (r)
		r->status = status;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
