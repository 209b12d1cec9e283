/*
 * httpd.d - DTrace translators for mod_dtprovider's httpd provider.
 *
 * Install in /usr/lib/dtrace (`make install` puts it in $PREFIX/lib/dtrace;
 * then run dtrace with -L $PREFIX/lib/dtrace). With it, request-done's
 * args[5] is an httpd_reqinfo_t * whose fields are already copied in from
 * Apache's memory, and D scripts read args[5]->hri_vhost like any struct.
 *
 * struct httpd_request_info below is version 2 of the struct in
 * mod_dtprovider.h, the same layout on every ABI (strings are 64-bit
 * addresses). Later versions only append fields (docs/probes.md), so this
 * translator stays valid; a new version adds fields here too. Fields a
 * version added are read only when the module's struct has them, so the
 * translator also serves a module of an earlier version.
 *
 * Not tested by this project's CI (Linux, no DTrace): its field names are
 * checked against mod_dtprovider.h and the D scripts by
 * tests/scripts/test_dtrace_static.py.
 */

struct httpd_request_info {
	uint32_t version;
	uint32_t size;
	uint64_t id;
	uint64_t conn_id;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t start_us;
	uint64_t latency_us;
	int32_t status;
	uint16_t local_port;
	uint16_t peer_port;
	uint64_t method;
	uint64_t uri;
	uint64_t query;
	uint64_t protocol;
	uint64_t vhost;
	uint64_t handler;
	uint64_t local_ip;
	uint64_t peer_ip;
	uint64_t useragent_ip;
	uint64_t user_agent;
	uint64_t trace_id;
	uint64_t parent_id;
};

/*
 * Request-phase's args[5] is the address of this struct in the traced
 * process (mod_dtprovider.h): copy it in, e.g.
 *   this->p = (struct httpd_request_pools *)copyin(args[5],
 *       sizeof (struct httpd_request_pools));
 * and compare this->p->request_pool with apr_palloc()'s arg0 (pid provider).
 */
struct httpd_request_pools {
	uint32_t version;
	uint32_t size;
	uint64_t conn_id;
	uint64_t request_pool;
	uint64_t conn_pool;
	uint64_t process_pool;
};

/* Request-done's args[5]: the request info, copied in. */
typedef struct httpd_reqinfo {
	uint32_t hri_version;		/* struct version, 2 */
	uint64_t hri_id;		/* request id, as args[0] */
	uint64_t hri_conn_id;		/* client connection id, 0 if unknown */
	uint64_t hri_bytes_in;		/* request body bytes read */
	uint64_t hri_bytes_out;		/* response body bytes sent (%B) */
	uint64_t hri_start_us;		/* request line read, us since epoch */
	uint64_t hri_latency_us;	/* as args[2] (%D) */
	int hri_status;			/* as args[1] (%>s) */
	int hri_local_port;		/* server port */
	int hri_peer_port;		/* client port */
	string hri_method;		/* as args[3] */
	string hri_uri;			/* as args[4] */
	string hri_query;		/* query string without '?' */
	string hri_protocol;		/* "HTTP/1.1", "HTTP/2.0" ... */
	string hri_vhost;		/* ServerName of the virtual host */
	string hri_handler;		/* handler of the final request */
	string hri_local_ip;		/* server address */
	string hri_peer_ip;		/* client address of the connection */
	string hri_useragent_ip;	/* client as mod_remoteip says */
	string hri_user_agent;		/* User-Agent header */
	string hri_trace_id;		/* W3C traceparent's trace-id, "" */
	string hri_parent_id;		/* and its parent-id (version 2) */
	string hri_local;		/* "ip:port", IPv6 as "[ip]:port": */
	string hri_remote;		/* conninfo_t's ci_local, ci_remote */
} httpd_reqinfo_t;

#pragma D binding "1.0" translator
translator httpd_reqinfo_t < struct httpd_request_info *P > {
	hri_version = *(uint32_t *)copyin((uintptr_t)&P->version,
	    sizeof (uint32_t));
	hri_id = *(uint64_t *)copyin((uintptr_t)&P->id, sizeof (uint64_t));
	hri_conn_id = *(uint64_t *)copyin((uintptr_t)&P->conn_id,
	    sizeof (uint64_t));
	hri_bytes_in = *(uint64_t *)copyin((uintptr_t)&P->bytes_in,
	    sizeof (uint64_t));
	hri_bytes_out = *(uint64_t *)copyin((uintptr_t)&P->bytes_out,
	    sizeof (uint64_t));
	hri_start_us = *(uint64_t *)copyin((uintptr_t)&P->start_us,
	    sizeof (uint64_t));
	hri_latency_us = *(uint64_t *)copyin((uintptr_t)&P->latency_us,
	    sizeof (uint64_t));
	hri_status = *(int32_t *)copyin((uintptr_t)&P->status,
	    sizeof (int32_t));
	hri_local_port = *(uint16_t *)copyin((uintptr_t)&P->local_port,
	    sizeof (uint16_t));
	hri_peer_port = *(uint16_t *)copyin((uintptr_t)&P->peer_port,
	    sizeof (uint16_t));
	hri_method = copyinstr((uintptr_t)*(uint64_t *)copyin(
	    (uintptr_t)&P->method, sizeof (uint64_t)));
	hri_uri = copyinstr((uintptr_t)*(uint64_t *)copyin(
	    (uintptr_t)&P->uri, sizeof (uint64_t)));
	hri_query = copyinstr((uintptr_t)*(uint64_t *)copyin(
	    (uintptr_t)&P->query, sizeof (uint64_t)));
	hri_protocol = copyinstr((uintptr_t)*(uint64_t *)copyin(
	    (uintptr_t)&P->protocol, sizeof (uint64_t)));
	hri_vhost = copyinstr((uintptr_t)*(uint64_t *)copyin(
	    (uintptr_t)&P->vhost, sizeof (uint64_t)));
	hri_handler = copyinstr((uintptr_t)*(uint64_t *)copyin(
	    (uintptr_t)&P->handler, sizeof (uint64_t)));
	hri_local_ip = copyinstr((uintptr_t)*(uint64_t *)copyin(
	    (uintptr_t)&P->local_ip, sizeof (uint64_t)));
	hri_peer_ip = copyinstr((uintptr_t)*(uint64_t *)copyin(
	    (uintptr_t)&P->peer_ip, sizeof (uint64_t)));
	hri_useragent_ip = copyinstr((uintptr_t)*(uint64_t *)copyin(
	    (uintptr_t)&P->useragent_ip, sizeof (uint64_t)));
	hri_user_agent = copyinstr((uintptr_t)*(uint64_t *)copyin(
	    (uintptr_t)&P->user_agent, sizeof (uint64_t)));
	hri_trace_id = *(uint32_t *)copyin((uintptr_t)&P->version,
	    sizeof (uint32_t)) >= 2 ? copyinstr((uintptr_t)*(uint64_t *)copyin(
	    (uintptr_t)&P->trace_id, sizeof (uint64_t))) : "";
	hri_parent_id = *(uint32_t *)copyin((uintptr_t)&P->version,
	    sizeof (uint32_t)) >= 2 ? copyinstr((uintptr_t)*(uint64_t *)copyin(
	    (uintptr_t)&P->parent_id, sizeof (uint64_t))) : "";
	hri_local = strjoin(index(copyinstr((uintptr_t)*(uint64_t *)copyin(
	    (uintptr_t)&P->local_ip, sizeof (uint64_t))), ":") >= 0 ?
	    strjoin("[", strjoin(copyinstr((uintptr_t)*(uint64_t *)copyin(
	    (uintptr_t)&P->local_ip, sizeof (uint64_t))), "]")) :
	    copyinstr((uintptr_t)*(uint64_t *)copyin(
	    (uintptr_t)&P->local_ip, sizeof (uint64_t))),
	    strjoin(":", lltostr(*(uint16_t *)copyin((uintptr_t)&P->local_port,
	    sizeof (uint16_t)))));
	hri_remote = strjoin(index(copyinstr((uintptr_t)*(uint64_t *)copyin(
	    (uintptr_t)&P->peer_ip, sizeof (uint64_t))), ":") >= 0 ?
	    strjoin("[", strjoin(copyinstr((uintptr_t)*(uint64_t *)copyin(
	    (uintptr_t)&P->peer_ip, sizeof (uint64_t))), "]")) :
	    copyinstr((uintptr_t)*(uint64_t *)copyin(
	    (uintptr_t)&P->peer_ip, sizeof (uint64_t))),
	    strjoin(":", lltostr(*(uint16_t *)copyin((uintptr_t)&P->peer_port,
	    sizeof (uint16_t)))));
};

