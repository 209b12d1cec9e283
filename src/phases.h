/*
 * phases.h - what `httpdtrace phases` shares between its BPF side and user
 * space: the phases it times (httpd:::request-phase, docs/probes.md) and the
 * event a slow request sends (-s).
 */
#ifndef PHASES_H
#define PHASES_H

#include "lib/phase_track.h"
#include "lib/sizes.h"

struct phases_event {
	__u64 id;            /* request id */
	__u64 ns[PHASES_N];  /* time in each phase (a phase run twice: the sum) */
	__u64 total_ns;      /* their sum: request line read to request over */
	__u32 ran;           /* bit p: phase p ran */
	__s32 status;        /* final status, 0 if request-done was not seen */
	__u32 pid, tid;      /* the process, and the thread that ended it */
	char uri[STR_URI]; /* as the client asked */
};

#endif /* PHASES_H */
