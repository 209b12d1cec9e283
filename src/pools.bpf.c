// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pools.bpf.c - kernel side of `httpdtrace pools`: count apr_palloc() and
 * malloc() calls and bytes of Apache's threads, per request (charge.bpf.h
 * says which request a thread works for). The uprobes are attached by
 * pools.c to each Apache process's own libapr and libc.
 *
 * apr_pcalloc() is a symbol of its own in libapr 1.7, but it calls
 * apr_palloc() (and code built against apr_pools.h calls apr_palloc() through
 * a macro), so apr_palloc alone sees every pool allocation once. The
 * counters are pools.h's: calls, then bytes.
 */
#include "vmlinux.h"
#define TRACE_EVENTS
#include "trace.bpf.h"
#include "charge.bpf.h"
#include "pools.h"

/* One call of `size` bytes: counters calls and calls + 1. */
static __always_inline void count(__u32 calls, __u64 size)
{
	struct charge_counts *c;

	if (!trace_pid_match())
		return;
	c = charge_counts_here((__u32)bpf_get_current_pid_tgid(), true);
	if (!c || calls + 1 >= CHARGE_MAX)
		return;
	__sync_fetch_and_add(&c->v[calls], 1);
	__sync_fetch_and_add(&c->v[calls + 1], size);
}

/* libbpf 1.1 has no BPF_UPROBE; BPF_KPROBE reads the same registers. */
SEC("uprobe")
int BPF_KPROBE(apr_palloc, void *pool, __u64 size)
{
	count(POOLS_PALLOC_CALLS, size);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(libc_malloc, __u64 size)
{
	count(POOLS_MALLOC_CALLS, size);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
