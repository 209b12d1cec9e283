/*
 * resources.c - `httpdtrace resources`: what the kernel does for each
 * request: on-CPU and off-CPU time, system calls, bytes read from and
 * written to sockets, minor and major page faults; per request (-r) or per
 * uri at Ctrl-C. resources.bpf.c counts (BTF tracepoints sched_switch,
 * sys_enter, sys_exit; perf software page-fault events on every CPU);
 * charge.h states which request a thread's work is charged to.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <linux/types.h>
#include <sys/syscall.h>
#include "httpdtrace.h"
#include "lib/charge.h"
#include "resources.h"
#include "resources.skel.h"
#include "lib/stream.h"


static const struct charge_col cols[] = {
	[RES_ONCPU_NS] = { "ONCPU", "oncpu_us", 8, 1000 },
	[RES_OFFCPU_NS] = { "OFFCPU", "offcpu_us", 8, 1000 },
	[RES_SYSCALLS] = { "SYSC", "syscalls", 5, 1 },
	[RES_SOCK_READ] = { "RBYTES", "sock_read_bytes", 7, 1 },
	[RES_SOCK_WRITE] = { "WBYTES", "sock_write_bytes", 8, 1 },
	[RES_MINFLT] = { "MINFLT", "minor_faults", 6, 1 },
	[RES_MAJFLT] = { "MAJFLT", "major_faults", 6, 1 },
};

const char resources_doc[] =
	"Kernel resources per request: CPU, off-CPU, syscalls, socket bytes, faults.\n"
	"\n"
	"USAGE: httpdtrace resources [-r] [-j] [-t N] [-d DURATION] [-m PATH] [-p PID] [-v]\n"
	"\n"
	"EXAMPLES:\n"
	"    httpdtrace resources           # per uri, at Ctrl-C (means per request)\n"
	"    httpdtrace resources -t 10     # the 10 uris using the most CPU\n"
	"    httpdtrace resources -r        # one line per request as it ends\n"
	"    httpdtrace resources -r -j     # the same as JSON lines\n"
	"\n"
	"Columns: ONCPU and OFFCPU in microseconds (off-CPU: blocked, or runnable and\n"
	"waiting for a CPU), SYSC system calls, RBYTES and WBYTES bytes read from and\n"
	"written to sockets, MINFLT and MAJFLT page faults. A thread's work counts for\n"
	"the request whose latest request-phase fired on it, until that request ends;\n"
	"see ATTRIBUTION in httpdtrace(8) for the rule and its limits.";

/* The page-fault programs on every CPU: a software perf event that calls
 * the program at every fault (sample_period 1); t holds the links. */
static int attach_faults(struct trace *t, struct resources_bpf *skel)
{
	static const unsigned long long config[2] = { PERF_COUNT_SW_PAGE_FAULTS_MIN,
						      PERF_COUNT_SW_PAGE_FAULTS_MAJ };
	struct bpf_program *progs[2] = { skel->progs.minor_fault, skel->progs.major_fault };
	long n = sysconf(_SC_NPROCESSORS_CONF);
	int ncpus = n > 0 ? (int)n : 1;

	for (int cpu = 0; cpu < ncpus; cpu++) {
		for (int k = 0; k < 2; k++) {
			struct perf_event_attr attr = {
				.type = PERF_TYPE_SOFTWARE, .size = sizeof(attr),
				.config = config[k], .sample_period = 1,
			};
			int fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1,
					 PERF_FLAG_FD_CLOEXEC);

			if (fd < 0) {
				if (errno == ENODEV)
					continue; /* a CPU that is not there */
				trace_err("cannot open page-fault events on CPU %d: %s", cpu,
					  strerror(errno));
				return -errno;
			}
			struct bpf_link *link = bpf_program__attach_perf_event(progs[k], fd);

			if (!link) {
				int err = -errno;

				close(fd);
				trace_err("cannot attach to page-fault events: %s", strerror(-err));
				return err;
			}
			if (trace_link_add(t, link))
				return -ENOMEM;
		}
	}
	return 0;
}

struct res_ctx {
	struct trace *t;
	struct resources_bpf *skel;
};

/* Once a second: Apache processes forked since. */
static void rescan(void *ctx)
{
	struct res_ctx *rc = ctx;

	charge_add_procs(rc->t, rc->skel->maps.charge_procs);
}

int resources_main(int argc, char **argv)
{
	static const struct argp argp = { NULL, NULL, NULL, resources_doc, charge_children, NULL,
					  NULL };
	struct resources_bpf *skel = NULL;
	struct trace t;
	struct res_ctx rc = { .t = &t };
	struct charge_opts o = { .cols = cols, .ncols = RES_N, .sort = RES_ONCPU_NS };
	int err;

	err = TRACE_OPEN(&t, &argp, argc, argv, skel, resources);
	if (err)
		goto cleanup;
	err = trace_load(&t, skel->skeleton);
	if (err)
		goto cleanup;
	rc.skel = skel;
	charge_add_procs(&t, skel->maps.charge_procs);
	err = trace_attach_other(&t, skel->progs.sched_process_fork);
	if (!err)
		err = trace_attach_other(&t, skel->progs.sched_process_exec);
	if (!err)
		err = trace_attach_other(&t, skel->progs.sched_switch);
	if (!err)
		err = trace_attach_other(&t, skel->progs.sys_enter);
	if (!err)
		err = trace_attach_other(&t, skel->progs.sys_exit);
	if (!err)
		err = attach_faults(&t, skel);
	if (!err)
		err = trace_attach(&t);
	if (err)
		goto cleanup;
	err = charge_run(&t, &o, rescan, &rc);

cleanup:
	trace_close(&t);
	resources_bpf__destroy(skel);
	charge_free();
	return trace_exit_status(err);
}
