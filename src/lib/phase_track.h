/*
 * phase_track.h - the phases of a request that the tools time, shared by
 * `httpdtrace phases` and the exporter (phase_track.bpf.h follows them in
 * BPF): httpd:::request-phase's phases, docs/probes.md.
 */
#ifndef PHASE_TRACK_H
#define PHASE_TRACK_H

/* read, translate, access, type, handler, log: HTTPD_PHASE_READ (0) to
 * HTTPD_PHASE_LOG (5) of mod_dtprovider.h; HTTPD_PHASE_END closes log. */
#define PHASES_N 6
/* Their names, as the module gives them (request-phase's arg2): an
 * initializer for a const char *const [PHASES_N]. */
#define PHASES_NAMES { "read", "translate", "access", "type", "handler", "log" }

#endif /* PHASE_TRACK_H */
