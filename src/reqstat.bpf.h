/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * reqstat.bpf.h - the BPF side of per-request counters (see reqstat.h for
 * the attribution rule). Include after trace.bpf.h with TRACE_EVENTS. It
 * defines the request__phase program, which keeps
 *
 *   reqstat_cur      thread id -> the request it works for
 *   reqstat_req      request id -> its counters (from its translate probe
 *                    to its end, when they go to the ring buffer)
 *   reqstat_pending  thread id -> counters of work done for no request,
 *                    given to the next request that begins on the thread
 *
 * and gives the tool's programs reqstat_add(i, v, carry): add v to counter i
 * of the request the current thread works for; with carry, to the thread's
 * pending counters when it works for none (threads of Apache's processes
 * only). A tool that keeps per-thread running state (CPU time) defines
 * REQSTAT_PHASE_HOOK(tid) before including this: it runs at each phase
 * probe before the thread changes hands.
 */
#ifndef REQSTAT_BPF_H
#define REQSTAT_BPF_H

#include "mod_dtprovider.h"
#include "reqstat.h"

struct reqstat_counts {
	__u64 v[REQSTAT_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u64);
} reqstat_cur SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct reqstat_counts);
} reqstat_req SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct reqstat_counts);
} reqstat_pending SEC(".maps");

/* Processes that fired a phase probe (Apache's): only their threads get
 * pending counters, whatever probe (a system-wide tracepoint) counts. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} reqstat_procs SEC(".maps");

/* The counters work on this thread goes to: its request's, else (carry) its
 * pending ones, made on first use; NULL when nothing is to be counted. */
static __always_inline struct reqstat_counts *reqstat_counts_here(__u32 tid, bool carry)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	static const struct reqstat_counts zero;
	struct reqstat_counts *c;
	__u64 *id = bpf_map_lookup_elem(&reqstat_cur, &tid);

	if (id) {
		c = bpf_map_lookup_elem(&reqstat_req, id);
		if (c)
			return c;
	}
	if (!carry)
		return NULL;
	c = bpf_map_lookup_elem(&reqstat_pending, &tid);
	if (!c && !bpf_map_lookup_elem(&reqstat_procs, &tgid))
		return NULL;
	if (c)
		return c;
	bpf_map_update_elem(&reqstat_pending, &tid, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&reqstat_pending, &tid);
}

static __always_inline void reqstat_add_tid(__u32 tid, __u32 i, __u64 v, bool carry)
{
	struct reqstat_counts *c = reqstat_counts_here(tid, carry);

	if (c && i < REQSTAT_MAX)
		__sync_fetch_and_add(&c->v[i], v);
}

static __always_inline void reqstat_add(__u32 i, __u64 v, bool carry)
{
	reqstat_add_tid((__u32)bpf_get_current_pid_tgid(), i, v, carry);
}

/* The request is over: its counters to user space. */
static __always_inline void reqstat_end(__u64 id, const char *uri)
{
	struct reqstat_counts *c = bpf_map_lookup_elem(&reqstat_req, &id);
	struct reqstat_event *e;
	__u64 pid_tgid;

	if (!c)
		return;
	e = trace_reserve(struct reqstat_event);
	if (e) {
		pid_tgid = bpf_get_current_pid_tgid();
		e->id = id;
		for (int i = 0; i < REQSTAT_MAX; i++)
			e->v[i] = c->v[i];
		e->pid = pid_tgid >> 32;
		e->tid = (__u32)pid_tgid;
		TRACE_STR(e->uri, uri);
		trace_submit(e);
	}
	bpf_map_delete_elem(&reqstat_req, &id);
}

SEC("usdt")
int BPF_USDT(request__phase, __u64 id, int phase, const char *name, const char *uri,
	     __u64 elapsed_us)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct reqstat_counts *pend, fresh = {};
	__u64 *cur;

	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u8 one = 1;

	if (!trace_pid_match())
		return 0;
#ifdef REQSTAT_PHASE_HOOK
	REQSTAT_PHASE_HOOK(tid); /* the tool settles what the thread did so far */
#endif
	bpf_map_update_elem(&reqstat_procs, &tgid, &one, BPF_ANY);
	if (phase == HTTPD_PHASE_END) {
		cur = bpf_map_lookup_elem(&reqstat_cur, &tid);
		if (cur && *cur == id)
			bpf_map_delete_elem(&reqstat_cur, &tid);
		reqstat_end(id, uri);
		return 0;
	}
	/* A request is counted from its first probe (translate), so that it is
	 * whole: one read before tracing began has no entry and is skipped. */
	if (phase == HTTPD_PHASE_TRANSLATE && !bpf_map_lookup_elem(&reqstat_req, &id)) {
		pend = bpf_map_lookup_elem(&reqstat_pending, &tid);
		if (pend) {
			fresh = *pend;
			bpf_map_delete_elem(&reqstat_pending, &tid);
		}
		bpf_map_update_elem(&reqstat_req, &id, &fresh, BPF_ANY);
	}
	bpf_map_update_elem(&reqstat_cur, &tid, &id, BPF_ANY);
	return 0;
}

#endif /* REQSTAT_BPF_H */
