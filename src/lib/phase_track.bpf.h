/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * phase_track.bpf.h - each request's time per phase, from httpd:::request-
 * phase, for the programs that time phases (phases, exporter). Include
 * after trace.bpf.h. A phase ends where the request's next request-phase
 * fires; read (no probe of its own) is the first probe's elapsed_us; a phase
 * run twice (after an ErrorDocument's redirect) adds up. Only a request seen
 * from its first probe (translate) is followed.
 */
#ifndef PHASE_TRACK_BPF_H
#define PHASE_TRACK_BPF_H

#include "mod_dtprovider.h"
#include "phase_track.h"

struct phase_req {
	__u64 ts;       /* when the current phase began */
	__u64 ns[PHASES_N];
	__u32 phase;    /* the current phase */
	__u32 ran;      /* bit p: phase p ran */
	__s32 status;   /* the program's to set (request-done) */
};

/* Requests under way, by id. LRU: a request whose end was never seen (the
 * child died) is forgotten in time instead of filling the map. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct phase_req);
} phase_reqs SEC(".maps");

/* Take request-phase (id, phase, elapsed_us) into request id's record.
 * Returns the record when the request is over (phase end): the caller
 * reads it, then deletes it with phase_track_done(); else NULL. */
static __always_inline struct phase_req *phase_track(__u64 id, int phase, __u64 elapsed_us)
{
	__u64 now = bpf_ktime_get_ns();
	struct phase_req *r = bpf_map_lookup_elem(&phase_reqs, &id), fresh = {};

	if (!r) {
		if (phase != HTTPD_PHASE_TRANSLATE)
			return NULL;
		fresh.ts = now;
		fresh.ns[HTTPD_PHASE_READ] = elapsed_us * 1000;
		fresh.phase = HTTPD_PHASE_TRANSLATE;
		fresh.ran = 1U << HTTPD_PHASE_READ | 1U << HTTPD_PHASE_TRANSLATE;
		bpf_map_update_elem(&phase_reqs, &id, &fresh, BPF_ANY);
		return NULL;
	}
	if (r->phase < PHASES_N)
		r->ns[r->phase] += now - r->ts;
	if (phase == HTTPD_PHASE_END)
		return r;
	r->ts = now;
	r->phase = phase;
	if (phase >= 0 && phase < PHASES_N)
		r->ran |= 1U << phase;
	return NULL;
}

static __always_inline void phase_track_done(__u64 id)
{
	bpf_map_delete_elem(&phase_reqs, &id);
}

#endif /* PHASE_TRACK_BPF_H */
