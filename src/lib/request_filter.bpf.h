/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * request_filter.bpf.h - the BPF side of the request filters (-s -l -M -H,
 * request_filter.h), for the programs on httpd:::request-done. Include after
 * trace.bpf.h.
 */
#ifndef REQUEST_FILTER_BPF_H
#define REQUEST_FILTER_BPF_H

#include "request_filter.h"

const volatile struct request_filter request_filter = {};

/* Whether a finished request passes every filter. method and vhost are the
 * request's, copied out of Apache; a program may pass NULL for one whose
 * filter is off (request_filter.method[0] or .vhost[0] is 0) to skip the
 * copy. */
static __always_inline bool request_filter_pass(int status, __u64 latency_us,
						const char *method, const char *vhost)
{
	const volatile struct request_filter *f = &request_filter;

	if (f->status_hi && (status < f->status_lo || status > f->status_hi))
		return false;
	if (latency_us < f->min_latency_us)
		return false;
	if (method && !TRACE_STR_MATCH(f->method, method))
		return false;
	return !vhost || TRACE_STR_MATCH(f->vhost, vhost);
}

#endif /* REQUEST_FILTER_BPF_H */
