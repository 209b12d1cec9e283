// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * requests.bpf.c - kernel side of `httpdtrace requests`: on httpd:::request-done
 * copy the request's info into the ring buffer, after the filters that are
 * cheap here (pid, then request_filter_pass(): status, minimum latency,
 * method, vhost).
 */
#include "vmlinux.h"
#define TRACE_EVENTS
#include "lib/trace.bpf.h"
#include "lib/request_filter.bpf.h"
#include "mod_dtprovider.h"
#include "requests.h"

/* Everything from the info struct (its id, status, latency, method and uri
 * are the probe's other arguments): one argument fetched, not six. */
SEC("usdt")
int request__done(struct pt_regs *ctx)
{
	struct httpd_request_info info;
	struct request_event *e;
	__u64 pid_tgid, id, latency_us;
	int status;

	if (!trace_arg_struct(ctx, 5, &info, sizeof(info)))
		return 0;
	id = info.id;
	status = info.status;
	latency_us = info.latency_us;

	e = trace_reserve(struct request_event);
	if (!e)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->version = info.version;
	e->size = info.size;
	e->id = id;
	e->conn_id = info.conn_id;
	e->bytes_in = info.bytes_in;
	e->bytes_out = info.bytes_out;
	e->start_us = info.start_us;
	e->latency_us = latency_us;
	e->status = status;
	e->local_port = info.local_port;
	e->peer_port = info.peer_port;
	TRACE_STR(e->method, info.method);
	TRACE_STR(e->vhost, info.vhost);
	if (!request_filter_pass(status, latency_us, e->method, e->vhost)) {
		trace_discard(e);
		return 0;
	}
	TRACE_STR(e->protocol, info.protocol);
	TRACE_STR(e->handler, info.handler);
	TRACE_STR(e->local_ip, info.local_ip);
	TRACE_STR(e->peer_ip, info.peer_ip);
	TRACE_STR(e->useragent_ip, info.useragent_ip);
	TRACE_STR(e->uri, info.uri);
	TRACE_STR(e->query, info.query);
	TRACE_STR(e->user_agent, info.user_agent);
	if (info.version >= 2) {
		TRACE_STR(e->trace_id, info.trace_id);
		TRACE_STR(e->parent_id, info.parent_id);
	} else {
		e->trace_id[0] = e->parent_id[0] = 0;
	}
	trace_submit(e);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
