/*
 * requests.h - the event `httpdtrace requests` streams from BPF to user space:
 * every field of struct httpd_request_info v1 (module/mod_dtprovider.h) with
 * its strings copied out of the traced process, plus pid, tid and the time.
 * Strings longer than their array are cut to its size minus one.
 */
#ifndef REQUESTS_H
#define REQUESTS_H

#define REQ_SHORT_LEN 16  /* method, protocol */
#define REQ_NAME_LEN 64   /* vhost, handler */
#define REQ_IP_LEN 48     /* local_ip, peer_ip, useragent_ip (IPv6 fits) */
#define REQ_URI_LEN 256   /* uri */
#define REQ_QUERY_LEN 256 /* query */
#define REQ_UA_LEN 192    /* user_agent */

struct request_event {
	__u64 ts_ns;      /* bpf_ktime_get_ns() at request-done */
	__u32 pid, tid;
	__u32 version, size;
	__u64 id, conn_id, bytes_in, bytes_out, start_us, latency_us;
	__s32 status;
	__u16 local_port, peer_port;
	char method[REQ_SHORT_LEN];
	char protocol[REQ_SHORT_LEN];
	char vhost[REQ_NAME_LEN];
	char handler[REQ_NAME_LEN];
	char local_ip[REQ_IP_LEN];
	char peer_ip[REQ_IP_LEN];
	char useragent_ip[REQ_IP_LEN];
	char uri[REQ_URI_LEN];
	char query[REQ_QUERY_LEN];
	char user_agent[REQ_UA_LEN];
};

#endif /* REQUESTS_H */
