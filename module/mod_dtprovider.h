/*
 * mod_dtprovider.h - the public ABI of mod_dtprovider's probes.
 *
 * The httpd:::request-done probe passes, as its last argument, the address of
 * a struct httpd_request_info in the traced process. This header describes
 * that struct. It is included by the module, by httpdtrace's BPF programs
 * (where libc's types do not exist, hence the plain C types) and by anyone
 * writing their own consumer.
 *
 * The layout is the same on every ABI: integers are fixed-size and string
 * fields are 64-bit addresses of NUL-terminated strings in the traced
 * process (never NULL: a missing value is the empty string).
 *
 * Versioning rule: fields are never removed, resized or reordered. New
 * fields are appended, HTTPD_REQUEST_INFO_VERSION is incremented and `size`
 * grows. A consumer reads `version` (or `size`) and ignores what it does not
 * know; a field it knows is present when version >= the version that added
 * it. docs/probes.md is the prose form of this contract.
 */
#ifndef MOD_DTPROVIDER_H
#define MOD_DTPROVIDER_H

#define HTTPD_REQUEST_INFO_VERSION 2

struct httpd_request_info {
    /* version 1 */
    unsigned int version;        /*   0: HTTPD_REQUEST_INFO_VERSION */
    unsigned int size;           /*   4: sizeof(struct httpd_request_info) */
    unsigned long long id;       /*   8: request id, as in arg0 */
    unsigned long long conn_id;  /*  16: client connection id (0: unknown) */
    unsigned long long bytes_in; /*  24: request body bytes read */
    unsigned long long bytes_out;/*  32: response body bytes sent (%B) */
    unsigned long long start_us; /*  40: request line read, µs since epoch */
    unsigned long long latency_us; /* 48: as arg2 (%D) */
    int status;                  /*  56: final status, as arg1 (%>s) */
    unsigned short local_port;   /*  60: server port of the connection */
    unsigned short peer_port;    /*  62: client port of the connection */
    unsigned long long method;   /*  64: "GET" ... */
    unsigned long long uri;      /*  72: path, without query string */
    unsigned long long query;    /*  80: query string without '?' */
    unsigned long long protocol; /*  88: "HTTP/1.1", "HTTP/2.0" ... */
    unsigned long long vhost;    /*  96: ServerName of the virtual host */
    unsigned long long handler;  /* 104: handler of the final request */
    unsigned long long local_ip; /* 112: server address of the connection */
    unsigned long long peer_ip;  /* 120: client address of the connection */
    unsigned long long useragent_ip; /* 128: client as mod_remoteip says */
    unsigned long long user_agent;   /* 136: User-Agent request header */
    /* version 2 */
    unsigned long long trace_id;  /* 144: W3C traceparent's trace-id, 32
                                     lowercase hex digits ("": no valid
                                     traceparent header) */
    unsigned long long parent_id; /* 152: its parent-id, 16 hex digits */
};                               /* 160 bytes (144 in version 1) */

/* httpd:::request-phase passes, as its last argument (arg5), the address of
 * a struct httpd_request_pools: the pools a request's memory comes from, so
 * a tracer of apr_palloc() can tell which kind of pool an allocation went
 * to (httpdtrace pools). Pointers are addresses in the traced process; the
 * struct lives in the request's pool and stays the same for every phase of
 * the request. Same versioning rule as httpd_request_info. apr_pool_t is
 * opaque; on Linux its first field is the parent pool (libapr 1.x). */
#define HTTPD_REQUEST_POOLS_VERSION 1

struct httpd_request_pools {
    /* version 1 */
    unsigned int version;        /*  0: HTTPD_REQUEST_POOLS_VERSION */
    unsigned int size;           /*  4: sizeof(struct httpd_request_pools) */
    unsigned long long conn_id;  /*  8: client connection id, as request-
                                    done's info->conn_id */
    unsigned long long request_pool; /* 16: r->pool (subrequests and
                                        internal redirects use it or its
                                        subpools) */
    unsigned long long conn_pool;    /* 24: the client connection's c->pool */
    unsigned long long process_pool; /* 32: s->process->pool: the
                                        configuration pool, the child's pool
                                        and every other pool the process
                                        keeps are under it */
};                               /* 40 bytes */

/* httpd:::request-phase's phase argument: the phase that begins. Each phase
 * ends where the next probe of the same request id fires. Phase 0 (read) has
 * no probe: it runs from the request line to the first phase probe, whose
 * elapsed_us is its length. Numbers are never reused; new ones may appear, so
 * a consumer treats an unknown number as "some phase". */
#define HTTPD_PHASE_READ      0 /* request line and headers, post_read_request */
#define HTTPD_PHASE_TRANSLATE 1 /* quick_handler, translate_name, map_to_storage,
                                   header_parser */
#define HTTPD_PHASE_ACCESS    2 /* access, authentication, authorization */
#define HTTPD_PHASE_TYPE      3 /* type_checker, fixups, insert_filter */
#define HTTPD_PHASE_HANDLER   4 /* the handler, until logging begins */
#define HTTPD_PHASE_LOG       5 /* log_transaction */
#define HTTPD_PHASE_END       6 /* the request's memory is freed: it is over */

/* httpd:::conn-done's reason argument: why the connection ended, from what
 * the module saw of it; the first that applies, in this order: */
#define HTTPD_CONN_END_SHUTDOWN 5 /* the server was stopping (stop, restart,
                                     graceful restart, graceful-stop) and
                                     closed or cut it, or the process exited
                                     with it open; not when the client closed
                                     it or it timed out meanwhile */
#define HTTPD_CONN_END_ABORTED  4 /* a network error, or the client went away
                                     while Apache was writing (c->aborted) */
#define HTTPD_CONN_END_CLIENT   1 /* the client closed it: Apache read end of
                                     file */
#define HTTPD_CONN_END_TIMEOUT  2 /* nothing came in time: a read timed out,
                                     or the connection sat idle past
                                     KeepAliveTimeout */
#define HTTPD_CONN_END_SERVER   3 /* Apache closed it after a response
                                     (Connection: close, MaxKeepAliveRequests,
                                     an error status) */
#define HTTPD_CONN_END_UNKNOWN  0 /* none of the above was seen */

/* httpd:::internal-redirect's kind argument. */
#define HTTPD_REDIRECT_NEW    0 /* a new internal request: phases restart */
#define HTTPD_REDIRECT_FAST   1 /* a subrequest adopted in place */

#endif /* MOD_DTPROVIDER_H */
