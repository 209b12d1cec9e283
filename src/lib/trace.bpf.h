/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * trace.bpf.h - the BPF side of httpdtrace's plumbing, included by every
 * src/x.bpf.c after vmlinux.h. It gives:
 *
 *   trace_tgid            const volatile knob, set by trace_load() from -p
 *   trace_pid_match()     true when the current process is trace_tgid or a
 *                         child of it (Apache's parent pid selects all its
 *                         children; a child's pid selects that child only)
 *   TRACE_STR(dst, addr)  copy a NUL-terminated string of the traced process
 *                         into the fixed array dst (truncated to sizeof(dst)-1)
 *
 * and, when the file defines TRACE_EVENTS before including it:
 *
 *   events                ring buffer map (size set by trace_load(), -b)
 *   trace_drops           per-CPU counter of events lost to a full buffer
 *   trace_reserve(type)   reserve a `type *` in events, or count a drop and
 *                         return NULL
 *   trace_submit(e)       publish without a wake-up (user space drains every
 *   trace_discard(e)      TRACE_POLL_MS, see stream.c) / drop a reserved event
 *
 * Each program that should be attached is `SEC("usdt") int BPF_USDT(name,
 * ...)` where name is the probe's name (request__done): trace_attach()
 * attaches every program of the object to httpd:<program name>. A suffix
 * after three underscores is ignored, so two programs can share a probe
 * (request__done___hist attaches to request__done).
 */
#ifndef TRACE_BPF_H
#define TRACE_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

const volatile int trace_tgid = 0;

static __always_inline bool trace_pid_match(void)
{
	struct task_struct *task;
	int tgid;

	if (!trace_tgid)
		return true;
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (tgid == trace_tgid)
		return true;
	task = (struct task_struct *)bpf_get_current_task();
	return BPF_CORE_READ(task, real_parent, tgid) == trace_tgid;
}

/* Argument n (from 0) of the USDT probe that fired. BPF_USDT(name, args...)
 * fetches every argument it declares on every hit, each with a look-up of
 * the probe's argument spec and a helper call to read it; a program that
 * needs one or two of them (request-done: its info struct, which repeats
 * the others) takes them with this, as a plain SEC("usdt") int
 * name(struct pt_regs *ctx). 0 when the argument cannot be read. */
static __always_inline long trace_arg(struct pt_regs *ctx, __u64 n)
{
	long v = 0;

	bpf_usdt_arg(ctx, n, &v);
	return v;
}

/* For the programs that read one struct a probe argument points to (the
 * info struct of request-done, arg5): trace_pid_match(), then argument n's
 * struct copied into dst (size bytes). False if either fails. */
static __always_inline bool trace_arg_struct(struct pt_regs *ctx, __u64 n, void *dst, __u32 size)
{
	return trace_pid_match() && !bpf_probe_read_user(dst, size, (const void *)trace_arg(ctx, n));
}

#define TRACE_STR(dst, addr) \
	bpf_probe_read_user_str((dst), sizeof(dst), (const void *)(unsigned long)(addr))

/* Compare a NUL-terminated string read from the process with a knob of the
 * same array size; knob "" matches everything. */
#define TRACE_STR_MATCH(knob, s) trace_str_match_((const volatile char *)(knob), (s), sizeof(knob))

static __always_inline bool trace_str_match_(const volatile char *knob, const char *s,
					     unsigned int len)
{
	if (!knob[0])
		return true;
	for (unsigned int i = 0; i < len; i++) {
		if (knob[i] != s[i])
			return false;
		if (!s[i])
			return true;
	}
	return true;
}

#ifdef TRACE_EVENTS
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* 4 MiB; trace_load() applies -b */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} trace_drops SEC(".maps");

static __always_inline void *trace_reserve_(__u64 size)
{
	void *e = bpf_ringbuf_reserve(&events, size, 0);

	if (!e) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&trace_drops, &zero);

		if (n)
			(*n)++;
	}
	return e;
}

#define trace_reserve(type) ((type *)trace_reserve_(sizeof(type)))
#define trace_submit(e) bpf_ringbuf_submit((e), BPF_RB_NO_WAKEUP)
#define trace_discard(e) bpf_ringbuf_discard((e), BPF_RB_NO_WAKEUP)
#endif /* TRACE_EVENTS */

#endif /* TRACE_BPF_H */
