// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * resources.bpf.c - kernel side of `httpdtrace resources`: what the kernel
 * does for each request (charge.bpf.h says which request a thread works
 * for). No kprobes: BTF tracepoints and perf software events only.
 *
 *   on/off-CPU   sched_switch: a thread's time between switch-in and
 *                switch-out is on-CPU, between switch-out and switch-in
 *                off-CPU; on-CPU time is also settled at each phase probe
 *                so it splits exactly between requests
 *   syscalls     sys_enter
 *   socket bytes sys_enter notes read/readv/recvfrom/recvmsg and
 *                write/writev/sendto/sendmsg/sendfile on a socket fd;
 *                sys_exit adds a positive return value
 *   page faults  perf software events page-faults-min/-maj, every event
 *                (the program runs in the faulting thread)
 *   processes    Apache's: those that map the module (user space scans),
 *                fire a phase probe, or are forked by one (not after exec)
 */
#include "vmlinux.h"
#define TRACE_EVENTS
#include "lib/trace.bpf.h"

static __always_inline void settle_oncpu(__u32 tid);
#define CHARGE_PHASE_HOOK(tid) settle_oncpu(tid)
#include "lib/charge.bpf.h"
#include "resources.h"

#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* x86-64 syscall numbers of the socket transfers counted. */
enum { NR_read = 0, NR_write = 1, NR_readv = 19, NR_writev = 20, NR_sendfile = 40,
       NR_sendto = 44, NR_recvfrom = 45, NR_sendmsg = 46, NR_recvmsg = 47 };

/* Per thread: when it last went on a CPU, when it last went off one. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} on_ts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} off_ts SEC(".maps");

/* Per thread: the socket transfer under way (counter index), if any. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
} xfer SEC(".maps");

/* Whether a process is one of Apache's (it fired a phase probe: see
 * charge_procs). Everything else on the system is ignored after this
 * test. */
static __always_inline bool apache_process(__u32 tgid)
{
	return bpf_map_lookup_elem(&charge_procs, &tgid);
}

static __always_inline bool apache_current(void)
{
	return apache_process(bpf_get_current_pid_tgid() >> 32) && trace_pid_match();
}

/* Add the running thread's on-CPU time since its switch-in (or the last
 * settle) to what it works for, and restart the count. */
static __always_inline void settle_oncpu(__u32 tid)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 *ts = bpf_map_lookup_elem(&on_ts, &tid);

	if (ts) {
		charge_add_tid(tid, RES_ONCPU_NS, now - *ts, true);
		*ts = now;
	} else {
		bpf_map_update_elem(&on_ts, &tid, &now, BPF_ANY);
	}
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 prev_tid = prev->pid, next_tid = next->pid;
	__u64 now = bpf_ktime_get_ns(), *ts;

	if (apache_process(prev->tgid)) {
		ts = bpf_map_lookup_elem(&on_ts, &prev_tid);
		if (ts)
			charge_add_tid(prev_tid, RES_ONCPU_NS, now - *ts, true);
		bpf_map_delete_elem(&on_ts, &prev_tid);
		bpf_map_update_elem(&off_ts, &prev_tid, &now, BPF_ANY);
	}
	if (apache_process(next->tgid)) {
		ts = bpf_map_lookup_elem(&off_ts, &next_tid);
		/* Off-CPU time is never carried: a thread waiting for work
		 * waits for nobody. */
		if (ts)
			charge_add_tid(next_tid, RES_OFFCPU_NS, now - *ts, false);
		bpf_map_delete_elem(&off_ts, &next_tid);
		bpf_map_update_elem(&on_ts, &next_tid, &now, BPF_ANY);
	}
	return 0;
}

/* A process Apache forks (a child, under load or after a graceful restart)
 * is Apache's from its first instruction: its first request's read comes
 * before any phase probe and before user space's once-a-second scan. A
 * thread is no new process; a program it runs (exec) is not Apache. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 tgid = child->tgid;
	__u8 one = 1;

	if (child->tgid != parent->tgid && apache_process(parent->tgid))
		bpf_map_update_elem(&charge_procs, &tgid, &one, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = p->tgid;

	bpf_map_delete_elem(&charge_procs, &tgid);
	return 0;
}

/* Whether fd of the current process is a socket. */
static __always_inline bool is_socket(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds, *f;
	unsigned int max;
	umode_t mode;

	if (fd < 0)
		return false;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	max = BPF_CORE_READ(task, files, fdt, max_fds);
	if ((unsigned int)fd >= max || bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return false;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	return (mode & S_IFMT) == S_IFSOCK;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), dir;

	if (!apache_current())
		return 0;
	charge_add_tid(tid, RES_SYSCALLS, 1, true);
	switch (id) {
	case NR_read: case NR_readv: case NR_recvfrom: case NR_recvmsg:
		dir = RES_SOCK_READ;
		break;
	case NR_write: case NR_writev: case NR_sendto: case NR_sendmsg: case NR_sendfile:
		dir = RES_SOCK_WRITE;
		break;
	default:
		return 0;
	}
	if (is_socket((int)BPF_CORE_READ(regs, di)))
		bpf_map_update_elem(&xfer, &tid, &dir, BPF_ANY);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 *dir = bpf_map_lookup_elem(&xfer, &tid);

	if (!dir)
		return 0;
	if (ret > 0)
		charge_add_tid(tid, *dir, ret, true);
	bpf_map_delete_elem(&xfer, &tid);
	return 0;
}

static __always_inline int fault(__u32 counter)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (apache_current())
		charge_add_tid(tid, counter, 1, true);
	return 0;
}

SEC("perf_event")
int minor_fault(void *ctx)
{
	return fault(RES_MINFLT);
}

SEC("perf_event")
int major_fault(void *ctx)
{
	return fault(RES_MAJFLT);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
