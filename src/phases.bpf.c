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
#include "lib/trace.bpf.h"
#include "lib/hist_shared.h"
#include "phases.h"
#include "lib/phase_track.bpf.h"

const volatile bool slow = false; /* -s: an event per request ... */
const volatile __u64 slow_ns = 0;  /* ... at least this slow */


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
	struct phase_req *r;

	if (!trace_pid_match())
		return 0;
	r = phase_track(id, phase, elapsed_us);
	if (r) {
		req_end(id, r, uri);
		phase_track_done(id);
	}
	return 0;
}

SEC("usdt")
int BPF_USDT(request__done, __u64 id, int status)
{
	struct phase_req *r = bpf_map_lookup_elem(&phase_reqs, &id);

	if (r)
		r->status = status;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
