/*
 * read.h - reading exporter.bpf.c's maps, summed over the CPUs:
 * what a scrape (metrics.c) and the dashboard (dashboard.c) both
 * show. Safe to call from several threads at once.
 */
#ifndef EXPORTER_READ_H
#define EXPORTER_READ_H

#include <stdbool.h>
#include <sys/types.h>
#include "exporter.h"
#include "lib/proc.h"

struct exporter_bpf;

/* One request label set, its values summed over the CPUs (of the
 * exemplars, the newest). other: the overflow series. */
struct exp_series {
	struct exp_req_key key;
	struct exp_req_val val;
	bool other;
};

/* Every label set of `reqs`, then the overflow one if it counted anything.
 * Returns how many (in *out, malloc'd), or -errno. */
int exp_read_series(struct exporter_bpf *skel, struct exp_series **out);

/* `totals` summed over the CPUs; 0 or -errno. */
int exp_read_totals(struct exporter_bpf *skel, struct exp_totals *sum);

/* A request in flight: its slot of the in-flight table and what is there. */
struct exp_flight {
	unsigned int slot;
	__u64 id, start_ns;
	__u32 tgid;
};

/* The requests in flight now: how many, the start of the oldest (0: none),
 * and, when each is given, each of them whose start is known. A slot whose
 * process is gone (killed mid-request: its request-done will never come) is
 * freed, not counted. */
unsigned long long exp_inflight(struct exporter_bpf *skel, unsigned long long *oldest_ns,
				void (*each)(const struct exp_flight *f, void *ctx), void *ctx);

/* An Apache server that loads the traced module: its parent, version, MPM
 * and how many of its processes map the module (the parent included). */
struct exp_apache {
	pid_t pid;
	int procs;
	char version[PROC_VERSION_LEN], mpm[64];
};
#define EXP_APACHES_MAX 64

/* The servers that map `module` and are alive, as found at most
 * EXP_APACHES_RESCAN_NS before now (finding them reads every process's
 * maps): copied into out (EXP_APACHES_MAX of them), how many returned. */
#define EXP_APACHES_RESCAN_NS 10000000000ULL
int exp_apaches(const char *module, unsigned long long now, struct exp_apache *out);

#endif /* EXPORTER_READ_H */
