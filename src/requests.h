/*
 * requests.h - the event `httpdtrace requests` streams from BPF to user space:
 * every field of struct httpd_request_info v2 (module/mod_dtprovider.h) with
 * its strings copied out of the traced process, plus pid, tid and the time.
 * From a version-1 module, trace_id and parent_id are empty.
 * Strings longer than their array are cut to its size minus one.
 */
#ifndef REQUESTS_H
#define REQUESTS_H

#include "lib/sizes.h"


struct request_event {
	__u64 ts_ns;      /* bpf_ktime_get_ns() at request-done */
	__u32 pid, tid;
	__u32 version, size;
	__u64 id, conn_id, bytes_in, bytes_out, start_us, latency_us;
	__s32 status;
	__u16 local_port, peer_port;
	char method[STR_METHOD];
	char protocol[STR_METHOD];
	char vhost[STR_NAME];
	char handler[STR_NAME];
	char local_ip[STR_IP];
	char peer_ip[STR_IP];
	char useragent_ip[STR_IP];
	char uri[STR_URI];
	char query[STR_URI];
	char user_agent[STR_UA];
	char trace_id[STR_TRACE_ID];
	char parent_id[STR_PARENT_ID];
};

#endif /* REQUESTS_H */
