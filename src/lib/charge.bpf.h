/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * charge.bpf.h - the BPF side of per-request counters (see charge.h for
 * the attribution rule). Include after trace.bpf.h with TRACE_EVENTS. It
 * defines the request__phase program, which keeps
 *
 *   charge_cur      thread id -> the request it works for
 *   charge_req      request id -> its counters (from its translate probe
 *                    to its end, when they go to the ring buffer)
 *   charge_pending  thread id -> counters of work done for no request,
 *                    given to the next request that begins on the thread
 *
 * and gives the tool's programs charge_add(i, v, carry): add v to counter i
 * of the request the current thread works for; with carry, to the thread's
 * pending counters when it works for none (threads of Apache's processes
 * only). A tool that keeps per-thread running state (CPU time) defines
 * CHARGE_PHASE_HOOK(tid) before including this: it runs at each phase
 * probe before the thread changes hands. A tool may also define
 * CHARGE_BEGIN_HOOK(id, tid, pools): runs when request id's counters are
 * made (its first translate), after the thread's pending counters moved
 * in; pools is request-phase's arg5 (struct httpd_request_pools *, 0 from
 * a module without it); and CHARGE_END_HOOK(e, id): fills the tool's fields
 * of the event (e->conn_id) and forgets its own state of the request.
 */
#ifndef CHARGE_BPF_H
#define CHARGE_BPF_H

#include "mod_dtprovider.h"
#include "charge.h"

struct charge_counts {
	__u64 v[CHARGE_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u64);
} charge_cur SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct charge_counts);
} charge_req SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct charge_counts);
} charge_pending SEC(".maps");

/* Processes that fired a phase probe (Apache's): only their threads get
 * pending counters, whatever probe (a system-wide tracepoint) counts. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} charge_procs SEC(".maps");

/* The counters work on this thread goes to: its request's, else (carry) its
 * pending ones, made on first use; NULL when nothing is to be counted. */
static __always_inline struct charge_counts *charge_counts_here(__u32 tid, bool carry)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	static const struct charge_counts zero;
	struct charge_counts *c;
	__u64 *id = bpf_map_lookup_elem(&charge_cur, &tid);

	if (id) {
		c = bpf_map_lookup_elem(&charge_req, id);
		if (c)
			return c;
	}
	if (!carry)
		return NULL;
	c = bpf_map_lookup_elem(&charge_pending, &tid);
	if (!c && !bpf_map_lookup_elem(&charge_procs, &tgid))
		return NULL;
	if (c)
		return c;
	bpf_map_update_elem(&charge_pending, &tid, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&charge_pending, &tid);
}

static __always_inline void charge_add_tid(__u32 tid, __u32 i, __u64 v, bool carry)
{
	struct charge_counts *c = charge_counts_here(tid, carry);

	if (c && i < CHARGE_MAX)
		__sync_fetch_and_add(&c->v[i], v);
}

static __always_inline void charge_add(__u32 i, __u64 v, bool carry)
{
	charge_add_tid((__u32)bpf_get_current_pid_tgid(), i, v, carry);
}

/* The request is over: its counters to user space. */
static __always_inline void charge_end(__u64 id, const char *uri)
{
	struct charge_counts *c = bpf_map_lookup_elem(&charge_req, &id);
	struct charge_event *e;
	__u64 pid_tgid;

	if (!c)
		return;
	e = trace_reserve(struct charge_event);
	if (e) {
		pid_tgid = bpf_get_current_pid_tgid();
		e->id = id;
		for (int i = 0; i < CHARGE_MAX; i++)
			e->v[i] = c->v[i];
		e->pid = pid_tgid >> 32;
		e->tid = (__u32)pid_tgid;
		e->conn_id = 0;
		TRACE_STR(e->uri, uri);
#ifdef CHARGE_END_HOOK
		CHARGE_END_HOOK(e, id);
#endif
		trace_submit(e);
	}
	bpf_map_delete_elem(&charge_req, &id);
}

SEC("usdt")
int BPF_USDT(request__phase, __u64 id, int phase, const char *name, const char *uri,
	     __u64 elapsed_us, __u64 pools)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct charge_counts *pend, fresh = {};
	__u64 *cur;

	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u8 one = 1;

	if (!trace_pid_match())
		return 0;
#ifdef CHARGE_PHASE_HOOK
	CHARGE_PHASE_HOOK(tid); /* the tool settles what the thread did so far */
#endif
	bpf_map_update_elem(&charge_procs, &tgid, &one, BPF_ANY);
	if (phase == HTTPD_PHASE_END) {
		cur = bpf_map_lookup_elem(&charge_cur, &tid);
		if (cur && *cur == id)
			bpf_map_delete_elem(&charge_cur, &tid);
		charge_end(id, uri);
		return 0;
	}
	/* A request is counted from its first probe (translate), so that it is
	 * whole: one read before tracing began has no entry and is skipped. */
	if (phase == HTTPD_PHASE_TRANSLATE && !bpf_map_lookup_elem(&charge_req, &id)) {
		pend = bpf_map_lookup_elem(&charge_pending, &tid);
		if (pend) {
			fresh = *pend;
			bpf_map_delete_elem(&charge_pending, &tid);
		}
		bpf_map_update_elem(&charge_req, &id, &fresh, BPF_ANY);
#ifdef CHARGE_BEGIN_HOOK
		CHARGE_BEGIN_HOOK(id, tid, pools);
#endif
	}
	bpf_map_update_elem(&charge_cur, &tid, &id, BPF_ANY);
	return 0;
}

#endif /* CHARGE_BPF_H */
