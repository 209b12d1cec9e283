/*
 * request_filter.h - the request filters that run in BPF (-s -l -M -H), as
 * one struct both sides share: user space fills it from the options
 * (trace_filter_argp) and copies it into a program's `request_filter` knob
 * (TRACE_FILTER_SET); the program tests each finished request with
 * request_filter_pass() (request_filter.bpf.h).
 */
#ifndef REQUEST_FILTER_H
#define REQUEST_FILTER_H

#include "sizes.h"

struct request_filter {
	__s32 status_lo, status_hi; /* -s: lo <= status <= hi; 0, 0: any */
	__u64 min_latency_us;       /* -l */
	char method[STR_METHOD];    /* -M, upper-cased; "": any */
	char vhost[STR_NAME];       /* -H; "": any */
};

#endif /* REQUEST_FILTER_H */
