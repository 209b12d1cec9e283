/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
 * WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 */

/*
 * dtp_private.h: what the files of mod_dtprovider share (module/README.md
 * has the map). Not installed: the public ABI is mod_dtprovider.h.
 *
 * Every file that fires a probe includes this header, which brings in the
 * provider's macros (made from httpd_provider.d by `dtrace -h`), the
 * per-connection and per-request state, and the functions one probe family
 * lends another. Those functions, like the hooks the entry file registers,
 * have hidden visibility: the module's only exported symbol stays
 * dtprovider_module.
 */
#ifndef DTP_PRIVATE_H
#define DTP_PRIVATE_H

#include "httpd.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "apr_strings.h"

#include <stdint.h>

/* httpd's ap_config.h undefines _DTRACE_VERSION unless httpd itself was built
 * with DTrace; headers made by Sun-style `dtrace -h` are guarded by it and
 * would then turn every probe into nothing. The build also checks the .so's
 * probe notes (`make` fails without them). */
#undef _DTRACE_VERSION
#define _DTRACE_VERSION 1
/* On Linux the semaphores are linked into this .so (dtrace -G's object):
 * declared hidden, each is-enabled test is one `cmpw $0, sem(%rip)` instead
 * of an address load and a compare, which is most of an idle hook's cost.
 * Not elsewhere: DTrace's -G rewrites the calls its is-enabled tests make. */
#ifdef __linux__
#pragma GCC visibility push(hidden)
#endif
/* Probe arguments in registers (or immediates), never in memory: sys/sdt.h's
 * default "nor" lets the compiler name a stack slot, which a tracer must
 * then copy in from user memory, one read per argument per hit (request-
 * done's six were all stack slots). A register is read from the saved
 * registers for free. The loads happen after the is-enabled test, so the
 * idle path is unchanged. */
#if defined(__x86_64__) || defined(__aarch64__)
#define STAP_SDT_ARG_CONSTRAINT nr
#endif
#include "httpd_provider.h"
#ifdef __linux__
#pragma GCC visibility pop
#endif
#include "sdt_nop5.h"           /* probe sites on the fast uprobe path */

/* Grouped is-enabled tests. A hook that may fire any of several probes would
 * test each semaphore in turn. On Linux x86-64 the semaphores are unsigned
 * shorts laid out one after another in the provider's order of declaration
 * (module/check-probes.sh fails the build otherwise), so one 8-byte load
 * tests four of them: request-start, request-done, request-phase and
 * internal-redirect (post_read_request), or request-done, request-phase,
 * internal-redirect and conn-done (log_transaction; internal-redirect there
 * only sends the hook down its traced path for nothing). Each group is
 * declared as an 8-byte object under the first semaphore's symbol name, so
 * the compiler reads 8 bytes it knows to be there. Elsewhere: one test each. */
#if defined(__linux__) && defined(__x86_64__)
#define DTP_SEM_GROUP(name, first) \
    extern const unsigned long long name __asm__(#first) \
        __attribute__((visibility("hidden")))
DTP_SEM_GROUP(dtp_sems_request, httpd_request__start_semaphore);
DTP_SEM_GROUP(dtp_sems_log, httpd_request__done_semaphore);
#define DTP_REQUEST_PROBES_ENABLED() (dtp_sems_request != 0)
#define DTP_LOG_PROBES_ENABLED() (dtp_sems_log != 0)
#else
#define DTP_REQUEST_PROBES_ENABLED() \
    (HTTPD_REQUEST_START_ENABLED() || HTTPD_REQUEST_DONE_ENABLED() \
     || HTTPD_REQUEST_PHASE_ENABLED() || HTTPD_INTERNAL_REDIRECT_ENABLED())
#define DTP_LOG_PROBES_ENABLED() \
    (HTTPD_REQUEST_DONE_ENABLED() || HTTPD_REQUEST_PHASE_ENABLED() \
     || HTTPD_CONN_DONE_ENABLED())
#endif

#include "mod_dtprovider.h"

extern module AP_MODULE_DECLARE_DATA dtprovider_module;

#define DTP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define DTP_COLD __attribute__((noinline, cold))

/* A request hook, as every one here is: its is-enabled test (`enabled`),
 * true only while a tracer is attached, and the work in its cold
 * NAME_traced(), defined before it. Idle, the hook is a load, a compare and
 * a return. */
#define DTP_REQUEST_HOOK(name, enabled) \
    int name(request_rec *r) \
    { \
        if (DTP_UNLIKELY(enabled)) { \
            return name##_traced(r); \
        } \
        return DECLINED; \
    }

/* Before any other module's really-first hook: a phase probe must see its
 * phase begin. */
#define DTP_HOOK_FIRST (APR_HOOK_REALLY_FIRST - 10)

#pragma GCC visibility push(hidden)

/* ------------------------------------------------------------------------ */
/* State                                                                     */
/* ------------------------------------------------------------------------ */

/* Per client connection (c->conn_config, from c->pool), made only while
 * something is traced (probes/connections.c). */
typedef struct dtp_conn dtp_conn_t;
struct dtp_conn {
    apr_uint64_t id;
    conn_rec *c;
    apr_time_t start;           /* accepted; 0 if not seen accepted */
    apr_time_t end;             /* pre_close_connection; 0 until then */
    apr_time_t last;            /* the last request logged; 0 before */
    apr_uint64_t bytes_in;      /* counted by the connection's filters */
    apr_uint64_t bytes_out;
    apr_uint32_t requests;      /* request-done's on it, atomically */
    int started;                /* conn-start fired: conn-done may fire */
    int done;                   /* conn-done is past (dtp_open_lock) */
    /* What the input filter saw: end of file, a timeout, an error. */
    unsigned int saw_eof:1, saw_timeup:1, saw_error:1;
    dtp_conn_t *prev, *next;    /* in dtp_open while `open` */
    int open;
    int listed;                 /* was put in dtp_open (set before any other
                                 * thread can see it, never cleared) */
};

/* Per client request (r->request_config, from r->pool), made at
 * post_read_request while a request probe is traced (probes/requests.c). */
typedef struct {
    apr_uint64_t id;
    const char *uri;
    apr_time_t start;           /* r->request_time: request line read */
    const char *type_uri;       /* r->uri when the type phase began */
    struct httpd_request_pools pools;   /* request-phase's last argument */
} dtp_req_t;

/* A string for a probe argument: never NULL, and its first byte touched so
 * its page is mapped (BPF cannot fault a page in; a literal nothing else read
 * would otherwise read back as ""). */
static inline const char *dtp_str(const char *s)
{
    if (s == NULL) {
        return "";
    }
    (void)*(volatile const char *)s;
    return s;
}

/* The client connection a request arrived on: HTTP/2 requests run on
 * secondary connections whose master is the client's. */
static inline conn_rec *dtp_client_conn(conn_rec *c)
{
    while (c->master != NULL) {
        c = c->master;
    }
    return c;
}

/* The state of a request of a traced client request (internal redirects
 * included), or NULL: subrequests, and requests read before tracing began,
 * have none. */
static inline dtp_req_t *dtp_req_state(request_rec *r)
{
    return ap_get_module_config(r->request_config, &dtprovider_module);
}

/* ------------------------------------------------------------------------ */
/* What each file offers the others                                          */
/* ------------------------------------------------------------------------ */

/* ids.c: request and connection ids, unique across the server's processes
 * (start at 1; 0 means "unknown"). */
void dtp_ids_init(server_rec *s);
apr_uint64_t dtp_next_request_id(void);
apr_uint64_t dtp_next_conn_id(void);

/* probes/connections.c: conn-start, conn-done. */
extern ap_filter_rec_t *dtp_in_filter_handle;
extern ap_filter_rec_t *dtp_out_filter_handle;
void dtp_child_init(apr_pool_t *pchild, server_rec *s);
int dtp_pre_connection(conn_rec *c, void *csd);
int dtp_pre_close_connection(conn_rec *c);
apr_status_t dtp_in_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                           ap_input_mode_t mode, apr_read_type_e block,
                           apr_off_t readbytes);
apr_status_t dtp_out_filter(ap_filter_t *f, apr_bucket_brigade *bb);
/* The id of the client connection a request is on (its state in *csp, or
 * NULL): 0 when an HTTP/2 request's primary connection was accepted before
 * tracing began. */
apr_uint64_t dtp_request_conn_id(request_rec *r, dtp_conn_t **csp);

/* probes/requests.c: request-start, request-done, internal-redirect. */
int dtp_post_read_request(request_rec *r);
int dtp_log_transaction(request_rec *r);

/* probes/phases.c: request-phase (and internal-redirect's kind 1). */
void dtp_phase(dtp_req_t *rs, int phase, const char *uri);
apr_status_t dtp_req_cleanup(void *data);
int dtp_access_checker(request_rec *r);
int dtp_type_checker(request_rec *r);
int dtp_handler(request_rec *r);

/* probes/pools.c: request-phase's struct httpd_request_pools. */
void dtp_req_pools(dtp_req_t *rs, request_rec *r, apr_uint64_t conn_id);

#pragma GCC visibility pop

#endif /* DTP_PRIVATE_H */
