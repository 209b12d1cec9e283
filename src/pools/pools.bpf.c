// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pools.bpf.c - kernel side of `httpdtrace pools`: count apr_palloc() and
 * malloc() calls and bytes of Apache's threads, per request (charge.bpf.h
 * says which request a thread works for), and for each palloc the kind of
 * pool it went to and whether it made the pool fetch a new block. The
 * uprobes are attached by pools.c to each Apache process's own libapr and
 * libc.
 *
 * apr_pcalloc() is a symbol of its own in libapr 1.7, but it calls
 * apr_palloc() (and code built against apr_pools.h calls apr_palloc() through
 * a macro), so apr_palloc alone sees every pool allocation once.
 *
 * Kind of pool. request-phase's arg5 (struct httpd_request_pools) names the
 * request's pool, its connection's and the process pool; the pool a palloc
 * names is compared with them, then its parent, its parent's parent... (the
 * parent is the first field of libapr's apr_pool_t): the first match is its
 * kind, none within POOLS_DEPTH levels is "other". A thread that works for
 * no request yet (reading the next one) cannot compare: it keeps, per pool
 * it allocates from, the pool's ancestors and counts, and the request that
 * begins on it next (its first translate) sorts them.
 *
 * Block fetches. libapr's allocator_alloc() is static and inlined (no
 * symbol to probe), so the probe asks what apr_palloc() is about to do, by
 * libapr 1.7's rule: the size rounded up to 8 is served by the pool's
 * active block if it has that much free, else by the next block in the
 * pool's ring if that one has, else apr_palloc() fetches a new block from
 * the allocator. The probe reads the same fields apr_palloc() reads:
 * apr_pool_t's `active` (offset 88 on 64-bit, apr_pools.c's layout) and
 * the public apr_memnode_t.
 */
#include "vmlinux.h"
#define TRACE_EVENTS
#include "lib/trace.bpf.h"
#include "lib/charge.h"
#include "mod_dtprovider.h"
#include "pools.h"

#define POOLS_DEPTH  16  /* pool levels compared: request pools sit ~5 deep */
#define POOLS_SLOTS  8   /* pools a thread allocates from between requests */
#define POOL_ACTIVE  88  /* offsetof(apr_pool_t, active), libapr 1.x, 64-bit */

/* apr_memnode_t, as apr_allocator.h declares it. */
struct memnode {
	__u64 next;
	__u64 ref;
	__u32 index, free_index;
	__u64 first_avail;
	__u64 endp;
};

/* Pools of the requests being counted, by request id. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct httpd_request_pools);
} pools_req SEC(".maps");

/* A pool a thread allocated from while it served no request. */
struct pools_slot {
	__u64 chain[POOLS_DEPTH]; /* the pool, its parent, ...; 0 past the root */
	__u64 n[3];               /* calls, bytes, block fetches */
};

struct pools_pend {
	struct pools_slot slot[POOLS_SLOTS];
	__u64 over[3];            /* pools beyond POOLS_SLOTS: kind "other" */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct pools_pend);
} pools_pending SEC(".maps");

struct charge_event;
static __always_inline void pools_begin(__u64 id, __u32 tid, __u64 pools);
static __always_inline void pools_end(struct charge_event *e, __u64 id);
#define CHARGE_BEGIN_HOOK(id, tid, pools) pools_begin(id, tid, pools)
#define CHARGE_END_HOOK(e, id) pools_end(e, id)
#include "lib/charge.bpf.h"

/* Add a (calls, bytes, block fetches) triple at counter i. */
static __always_inline void add3(struct charge_counts *c, __u32 i, __u64 calls, __u64 bytes,
				 __u64 blocks)
{
	if (i + 2 >= CHARGE_MAX)
		return;
	__sync_fetch_and_add(&c->v[i], calls);
	__sync_fetch_and_add(&c->v[i + 1], bytes);
	__sync_fetch_and_add(&c->v[i + 2], blocks);
}

/* The kind `pool` itself is for request rp, or -1: not one of its pools. */
static __always_inline int pool_is(__u64 pool, const struct httpd_request_pools *rp)
{
	if (pool == rp->request_pool)
		return POOLS_REQUEST;
	if (pool == rp->conn_pool)
		return POOLS_CONN;
	if (pool == rp->process_pool)
		return POOLS_CHILD;
	return -1;
}

/* The kind of pool `pool` is for request rp: the nearest match among it and
 * its ancestors. */
static __always_inline int pool_kind(__u64 pool, const struct httpd_request_pools *rp)
{
	int k;

	for (int i = 0; i < POOLS_DEPTH && pool; i++) {
		k = pool_is(pool, rp);
		if (k >= 0)
			return k;
		if (bpf_probe_read_user(&pool, sizeof(pool), (void *)pool))
			break;
	}
	return POOLS_OTHER;
}

/* The same for a chain kept by a pending slot. */
static __always_inline int chain_kind(const __u64 *chain, const struct httpd_request_pools *rp)
{
	int k;

	for (int i = 0; i < POOLS_DEPTH && chain[i]; i++) {
		k = pool_is(chain[i], rp);
		if (k >= 0)
			return k;
	}
	return POOLS_OTHER;
}

/* 1 if apr_palloc(pool, size) is about to fetch a block from the allocator
 * (libapr 1.7's rule, see the top of the file), else 0. */
static __always_inline __u64 palloc_fetches(__u64 pool, __u64 size)
{
	struct memnode n;
	__u64 active, free;

	size = (size + 7) & ~7ULL;
	if (bpf_probe_read_user(&active, sizeof(active), (void *)(pool + POOL_ACTIVE)) ||
	    bpf_probe_read_user(&n, sizeof(n), (void *)active))
		return 0;
	free = n.endp - n.first_avail;
	if (size <= free)
		return 0;
	if (n.next != active && bpf_probe_read_user(&n, sizeof(n), (void *)n.next))
		return 0;
	free = n.endp - n.first_avail;
	return size > free;
}

/* A palloc of a thread that serves no request: into its slot for `pool`. */
static __always_inline void pend_add(__u32 tid, __u64 pool, __u64 size, __u64 blocks)
{
	static const struct pools_pend zero;
	struct pools_pend *p = bpf_map_lookup_elem(&pools_pending, &tid);
	struct pools_slot *s;
	__u64 up;

	if (!p) {
		bpf_map_update_elem(&pools_pending, &tid, &zero, BPF_NOEXIST);
		p = bpf_map_lookup_elem(&pools_pending, &tid);
		if (!p)
			return;
	}
	for (int i = 0; i < POOLS_SLOTS; i++) {
		s = &p->slot[i];
		if (s->chain[0] && s->chain[0] != pool)
			continue;
		if (!s->chain[0]) {
			up = pool;
			for (int d = 0; d < POOLS_DEPTH && up; d++) {
				s->chain[d] = up;
				if (bpf_probe_read_user(&up, sizeof(up), (void *)up))
					break;
			}
		}
		s->n[0] += 1;
		s->n[1] += size;
		s->n[2] += blocks;
		return;
	}
	p->over[0] += 1;
	p->over[1] += size;
	p->over[2] += blocks;
}

/* Request id's counters were made on thread tid: keep its pools (from
 * request-phase's arg5) and sort what the thread allocated before it. */
static __always_inline void pools_begin(__u64 id, __u32 tid, __u64 pools)
{
	struct httpd_request_pools rp = {};
	struct charge_counts *c = bpf_map_lookup_elem(&charge_req, &id);
	struct pools_pend *p = bpf_map_lookup_elem(&pools_pending, &tid);
	struct pools_slot *s;
	bool known;

	known = pools && !bpf_probe_read_user(&rp, sizeof(rp), (void *)pools) &&
		rp.version >= 1 && rp.size >= sizeof(rp);
	if (known)
		bpf_map_update_elem(&pools_req, &id, &rp, BPF_ANY);
	if (!p)
		return;
	if (c) {
		for (int i = 0; i < POOLS_SLOTS; i++) {
			s = &p->slot[i];
			if (!s->chain[0])
				break;
			add3(c, POOLS_KIND(known ? chain_kind(s->chain, &rp) : POOLS_OTHER, 0),
			     s->n[0], s->n[1], s->n[2]);
		}
		add3(c, POOLS_KIND(POOLS_OTHER, 0), p->over[0], p->over[1], p->over[2]);
	}
	bpf_map_delete_elem(&pools_pending, &tid);
}

/* Request id is over: its connection to the event, its pools forgotten. */
static __always_inline void pools_end(struct charge_event *e, __u64 id)
{
	struct httpd_request_pools *rp = bpf_map_lookup_elem(&pools_req, &id);

	if (!rp)
		return;
	e->conn_id = rp->conn_id;
	bpf_map_delete_elem(&pools_req, &id);
}

/* libbpf 1.1 has no BPF_UPROBE; BPF_KPROBE reads the same registers. */
SEC("uprobe")
int BPF_KPROBE(apr_palloc, void *pool, __u64 size)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct httpd_request_pools *rp = NULL;
	struct charge_counts *c = NULL;
	__u64 blocks, *id;
	int kind;

	if (!trace_pid_match())
		return 0;
	blocks = palloc_fetches((__u64)pool, size);
	id = bpf_map_lookup_elem(&charge_cur, &tid);
	if (id) {
		c = bpf_map_lookup_elem(&charge_req, id);
		rp = bpf_map_lookup_elem(&pools_req, id);
	}
	if (c) {
		kind = rp ? pool_kind((__u64)pool, rp) : POOLS_OTHER;
		add3(c, POOLS_KIND(kind, 0), 1, size, blocks);
	} else {
		c = charge_counts_here(tid, true);
		if (!c)
			return 0;
		pend_add(tid, (__u64)pool, size, blocks);
	}
	add3(c, POOLS_PALLOC_CALLS, 1, size, blocks);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(libc_malloc, __u64 size)
{
	struct charge_counts *c;

	if (!trace_pid_match())
		return 0;
	c = charge_counts_here((__u32)bpf_get_current_pid_tgid(), true);
	if (!c)
		return 0;
	__sync_fetch_and_add(&c->v[POOLS_MALLOC_CALLS], 1);
	__sync_fetch_and_add(&c->v[POOLS_MALLOC_BYTES], size);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
