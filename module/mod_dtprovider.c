/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
 * WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 */

/*
 * mod_dtprovider.c: static probes for Apache httpd.
 *
 * The module fires the httpd provider's probes (module/httpd_provider.d) for
 * every client connection and request: USDT on Linux, DTrace elsewhere. It
 * changes nothing Apache does: every hook returns DECLINED/OK and never fails
 * a request.
 *
 * Cost when nobody traces: each hook tests the probe's is-enabled semaphore
 * and returns. The semaphore lives in the file-backed `.probes` section; the
 * kernel (or DTrace) raises it while a tracer is attached. Everything else
 * (ids, clocks, state, filters) happens in the cold, non-inlined *_traced()
 * functions, reached only while some probe is enabled.
 *
 * Ids. Request and connection ids come from two 64-bit counters in anonymous
 * shared memory created by the parent at first start-up, so they are unique
 * across all children and never reused while the parent lives (graceful
 * restarts included). A request gets its id when it has been read
 * (post_read_request) while a request probe is traced; a request that never
 * got there (400/408/414, or one in flight when tracing began) gets a fresh
 * one at request-done. A connection gets its id when it
 * is accepted while traced, or when a traced request first needs it.
 *
 * State. Per connection (c->conn_config, from c->pool): id, start time, bytes
 * in and out counted by two network-level filters (which also note end of
 * file, timeouts and errors, for conn-done's reason), requests logged. It
 * exists only for connections seen while something was traced. Connections
 * whose pool outlives the child (event, worker) are also listed per process
 * while open, so a child that exits with them open still fires their
 * conn-done (dtp_open). HTTP/2 runs requests
 * on secondary connections (c->master != NULL) on several threads: they use
 * the primary connection's state, never create it, and count atomically.
 * Per request (r->request_config, from r->pool): the id and the uri the
 * client asked for, kept at post_read_request so request-done reports the
 * same uri as request-start even after mod_dir or mod_rewrite changed r->uri.
 * An internal redirect's new request_rec gets the same state (same id).
 * While request-start or request-phase is traced it also holds the
 * request's pools (r->pool, the client connection's pool, the process
 * pool), whose address request-phase passes so a tracer of apr_palloc()
 * can tell which kind of pool an allocation went to.
 *
 * Phases. request-phase fires when a phase of a client request begins; the
 * previous phase ends there. Each phase's probe comes from a hook that runs
 * before every other module's hook of that phase (DTP_HOOK_FIRST) and
 * returns DECLINED, so no module's hook is skipped and the boundary is
 * exact: translate begins when post_read_request is over (our hook there is
 * really last), access, type and handler at the first access_checker,
 * type_checker and handler hook, log at the first log_transaction hook, and
 * end when the request pool is destroyed (a cleanup registered only while
 * traced). Subrequests fire nothing: their time belongs to the phase of the
 * main request that made them. Three hooks (access, type, handler) exist
 * for phases alone, so they are registered only with DTraceProviderPhases
 * On; without it a request's phases are read, translate (through the
 * handler), log and end.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "ap_mpm.h"
#include "apr_shm.h"
#include "apr_strings.h"
#include "apr_thread_mutex.h"

#include <stdint.h>
#include <unistd.h>

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
#include "traceparent.h"

module AP_MODULE_DECLARE_DATA dtprovider_module;

#define DTP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define DTP_COLD __attribute__((noinline, cold))

/* Before any other module's really-first hook: a phase probe must see its
 * phase begin. */
#define DTP_HOOK_FIRST (APR_HOOK_REALLY_FIRST - 10)

/* ------------------------------------------------------------------------ */
/* Ids                                                                       */
/* ------------------------------------------------------------------------ */

/* The shared counters. Each on its own cache line: they are bumped by every
 * child, but only while traced. */
typedef struct {
    apr_uint64_t request;
    char pad1[64 - sizeof(apr_uint64_t)];
    apr_uint64_t conn;
    char pad2[64 - sizeof(apr_uint64_t)];
} dtp_ids_t;

static dtp_ids_t *dtp_ids;      /* in shared memory, or dtp_ids_local */
static dtp_ids_t dtp_ids_local; /* fallback if shared memory is refused */
static const char dtp_ids_key[] = "mod_dtprovider_ids";

/* Next value of a counter. Ids start at 1; 0 means "unknown". When shared
 * memory was refused, each process counts on its own with its pid in the top
 * 22 bits, so ids stay unique across live processes. */
static apr_uint64_t dtp_next_id(apr_uint64_t *counter)
{
    apr_uint64_t n = __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);

    if (dtp_ids == &dtp_ids_local) {
        n |= (apr_uint64_t)getpid() << 42;
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Per-connection state                                                      */
/* ------------------------------------------------------------------------ */

typedef struct dtp_conn dtp_conn_t;
struct dtp_conn {
    apr_uint64_t id;
    conn_rec *c;
    apr_time_t start;           /* accepted; 0 if not seen accepted */
    apr_time_t end;             /* pre_close_connection; 0 until then */
    apr_time_t last;            /* the last request logged; 0 before */
    apr_uint64_t bytes_in;      /* counted by the filters below */
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

/* Per-request state, made at post_read_request while a request probe is
 * traced. */
typedef struct {
    apr_uint64_t id;
    const char *uri;
    apr_time_t start;           /* r->request_time: request line read */
    const char *type_uri;       /* r->uri when the type phase began */
    struct httpd_request_pools pools;   /* request-phase's last argument */
} dtp_req_t;

static ap_filter_rec_t *dtp_in_filter_handle;
static ap_filter_rec_t *dtp_out_filter_handle;

/* A string for a probe argument: never NULL, and its first byte touched so
 * its page is mapped (BPF cannot fault a page in; a literal nothing else read
 * would otherwise read back as ""). */
static const char *dtp_str(const char *s)
{
    if (s == NULL) {
        return "";
    }
    (void)*(volatile const char *)s;
    return s;
}

/* The client connection a request arrived on: HTTP/2 requests run on
 * secondary connections whose master is the client's. */
static conn_rec *dtp_client_conn(conn_rec *c)
{
    while (c->master != NULL) {
        c = c->master;
    }
    return c;
}

/* The state of a client connection, created with a fresh id when `create` is
 * set and there is none. Only the thread that owns a primary connection may
 * create its state: HTTP/2 secondaries pass create = 0. */
static dtp_conn_t *dtp_conn_state(conn_rec *c, int create)
{
    dtp_conn_t *cs = ap_get_module_config(c->conn_config, &dtprovider_module);

    if (cs == NULL && create) {
        cs = apr_pcalloc(c->pool, sizeof(*cs));
        cs->id = dtp_next_id(&dtp_ids->conn);
        ap_set_module_config(c->conn_config, &dtprovider_module, cs);
    }
    return cs;
}

/* Connections still open whose pool outlives the child process. The event
 * and worker MPMs make each connection's pool from the configuration pool,
 * not the child's: a child that exits (stop, restart, the end of a graceful
 * stop) with connections open never destroys their pools, so their
 * cleanups, and conn-done, would never run. Such connections are listed here
 * (only while traced) and the child's pool cleanup fires conn-done for those
 * still open. Under prefork the connection's pool is a subpool of the
 * child's: destroying the child's pool runs its cleanup, nothing to list. */
static apr_pool_t *dtp_pchild;
static dtp_conn_t *dtp_open;
#if APR_HAS_THREADS
static apr_thread_mutex_t *dtp_open_lock;
#define DTP_OPEN_LOCK() \
    do { if (dtp_open_lock) apr_thread_mutex_lock(dtp_open_lock); } while (0)
#define DTP_OPEN_UNLOCK() \
    do { if (dtp_open_lock) apr_thread_mutex_unlock(dtp_open_lock); } while (0)
#else
#define DTP_OPEN_LOCK() do { } while (0)
#define DTP_OPEN_UNLOCK() do { } while (0)
#endif

static void dtp_open_add(dtp_conn_t *cs)
{
    cs->listed = 1;
    DTP_OPEN_LOCK();
    cs->prev = NULL;
    cs->next = dtp_open;
    if (dtp_open != NULL) {
        dtp_open->prev = cs;
    }
    dtp_open = cs;
    cs->open = 1;
    DTP_OPEN_UNLOCK();
}

/* Call with the lock held. */
static void dtp_open_unlink(dtp_conn_t *cs)
{
    if (cs->prev != NULL) {
        cs->prev->next = cs->next;
    }
    else {
        dtp_open = cs->next;
    }
    if (cs->next != NULL) {
        cs->next->prev = cs->prev;
    }
    cs->open = 0;
}

/* Why a connection ended (HTTPD_CONN_END_*, mod_dtprovider.h says the
 * order). Under the event MPM a connection whose keep-alive expires is
 * closed by the listener thread without a read: it shows as idle past
 * KeepAliveTimeout. */
static int dtp_conn_reason(const dtp_conn_t *cs, apr_time_t end)
{
    conn_rec *c = cs->c;
    int state = AP_MPMQ_RUNNING;

    /* A stopping child closes or cuts (an ungraceful stop shuts its
     * sockets down under blocked reads) what the client did not end. */
    if (!cs->saw_eof && !cs->saw_timeup
        && ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS
        && state == AP_MPMQ_STOPPING) {
        return HTTPD_CONN_END_SHUTDOWN;
    }
    if (c->aborted || cs->saw_error) {
        return HTTPD_CONN_END_ABORTED;
    }
    if (cs->saw_eof) {
        return HTTPD_CONN_END_CLIENT;
    }
    if (cs->saw_timeup) {
        return HTTPD_CONN_END_TIMEOUT;
    }
    if (c->keepalive == AP_CONN_CLOSE) {
        return HTTPD_CONN_END_SERVER;
    }
    if (cs->last != 0 && c->base_server != NULL
        && end - cs->last >= c->base_server->keep_alive_timeout) {
        return HTTPD_CONN_END_TIMEOUT;
    }
    return HTTPD_CONN_END_UNKNOWN;
}

static void dtp_conn_done(dtp_conn_t *cs, int reason)
{
    apr_time_t end = cs->end != 0 ? cs->end : apr_time_now();

    if (reason < 0) {
        reason = dtp_conn_reason(cs, end);
    }
    HTTPD_CONN_DONE(cs->id, __atomic_load_n(&cs->requests, __ATOMIC_RELAXED),
                    (uint64_t)(end > cs->start ? end - cs->start : 0),
                    cs->bytes_in, cs->bytes_out, reason);
}

/* Fire conn-done once, from the cleanup of c->pool. Not earlier: a request
 * Apache refused while reading it (400, 414) is logged when its end-of-request
 * bucket is destroyed, which happens after pre_close_connection; only the
 * connection pool's cleanup (run after its subpools and the brigades made
 * after pre_connection) comes after every request-done of the connection.
 * The duration ends at pre_close_connection when it ran (the client's view,
 * without lingering close). */
static apr_status_t dtp_conn_cleanup(void *data)
{
    dtp_conn_t *cs = data;
    int done;

    /* A connection that was never listed is this thread's alone: no lock.
     * That matters under prefork, whose child destroys its pools from the
     * SIGTERM handler, which may have interrupted this very cleanup. */
    if (!cs->listed) {
        done = cs->done;
        cs->done = 1;
    }
    else {
        DTP_OPEN_LOCK();
        if (cs->open) {
            dtp_open_unlink(cs);
        }
        done = cs->done;
        cs->done = 1;
        DTP_OPEN_UNLOCK();
    }
    if (!done && cs->started && HTTPD_CONN_DONE_ENABLED()) {
        dtp_conn_done(cs, -1);
    }
    return APR_SUCCESS;
}

/* The child's pool is being destroyed: the process exits. Every listed
 * connection is still open and will never be closed by Apache. */
static apr_status_t dtp_child_exit(void *data)
{
    (void)data;
    if (dtp_open == NULL) {
        return APR_SUCCESS;     /* always so under prefork: never locks */
    }
    DTP_OPEN_LOCK();
    while (dtp_open != NULL) {
        dtp_conn_t *cs = dtp_open;

        dtp_open_unlink(cs);
        cs->done = 1;
        if (HTTPD_CONN_DONE_ENABLED()) {
            dtp_conn_done(cs, HTTPD_CONN_END_SHUTDOWN);
        }
    }
    DTP_OPEN_UNLOCK();
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Filters: wire bytes of a traced connection                                */
/* ------------------------------------------------------------------------ */

/* Counts what the network gives the connection. Added (at pre_connection)
 * only to connections accepted while conn-done is traced; speculative reads
 * are not counted since the data will be read again. */
static apr_status_t dtp_in_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                  ap_input_mode_t mode,
                                  apr_read_type_e block, apr_off_t readbytes)
{
    dtp_conn_t *cs = f->ctx;
    apr_status_t rv = ap_get_brigade(f->next, bb, mode, block, readbytes);
    apr_off_t len = 0;

    if (rv == APR_SUCCESS && mode != AP_MODE_SPECULATIVE
        && apr_brigade_length(bb, 0, &len) == APR_SUCCESS && len > 0) {
        cs->bytes_in += (apr_uint64_t)len;
    }
    else if (APR_STATUS_IS_EOF(rv)
             || (rv == APR_SUCCESS && block == APR_BLOCK_READ
                 && APR_BRIGADE_EMPTY(bb)
                 && (mode == AP_MODE_GETLINE || mode == AP_MODE_READBYTES
                     || mode == AP_MODE_SPECULATIVE))) {
        /* A blocking read at end of file first hands back nothing (an
         * empty brigade), and APR_EOF only on the next read. A
         * non-blocking read that finds nothing also hands back an empty
         * brigade: that one says nothing. */
        cs->saw_eof = 1;
    }
    else if (APR_STATUS_IS_TIMEUP(rv)) {
        cs->saw_timeup = 1;
    }
    else if (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)) {
        cs->saw_error = 1;
    }
    return rv;
}

/* Counts what the connection hands the network: data buckets of unknown
 * length (pipes, sockets) are read here so they have one. */
static apr_status_t dtp_out_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    dtp_conn_t *cs = f->ctx;
    apr_bucket *b;

    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
         b = APR_BUCKET_NEXT(b)) {
        if (APR_BUCKET_IS_METADATA(b)) {
            continue;
        }
        if (b->length == (apr_size_t)-1) {
            const char *data;
            apr_size_t n;

            if (apr_bucket_read(b, &data, &n, APR_BLOCK_READ) != APR_SUCCESS) {
                break;
            }
        }
        cs->bytes_out += b->length;
    }
    return ap_pass_brigade(f->next, bb);
}

/* ------------------------------------------------------------------------ */
/* Hooks                                                                     */
/* ------------------------------------------------------------------------ */

/* post_config (RUN_ALL), in the parent: find or create the shared id
 * counters. They hang off the process pool, so they outlive graceful
 * restarts (which unload and reload this module) and every child inherits
 * them. */
static int dtp_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    apr_pool_t *pproc = s->process->pool;
    apr_shm_t *shm = NULL;
    void *data = NULL;
    apr_status_t rv;

    (void)pconf; (void)plog; (void)ptemp;
    apr_pool_userdata_get(&data, dtp_ids_key, pproc);
    if (data == NULL) {
        rv = apr_shm_create(&shm, sizeof(dtp_ids_t), NULL, pproc);
        if (rv == APR_SUCCESS) {
            data = apr_shm_baseaddr_get(shm);
            memset(data, 0, sizeof(dtp_ids_t));
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                         "mod_dtprovider: no anonymous shared memory; "
                         "ids are per process (pid in the top bits)");
            data = &dtp_ids_local;
        }
        apr_pool_userdata_set(data, dtp_ids_key, apr_pool_cleanup_null,
                              pproc);
    }
    dtp_ids = data;
    /* once a start or restart, not in the first of the two configuration
     * passes: the version httpdtrace --version says too */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     "mod_dtprovider %s: httpd provider probes ready",
                     DTP_VERSION);
    }
    return OK;
}

/* child_init (RUN_ALL), in each child: the pool whose destruction means the
 * process exits, and the list of open connections (see dtp_open). */
static void dtp_child_init(apr_pool_t *pchild, server_rec *s)
{
    (void)s;
    dtp_pchild = pchild;
#if APR_HAS_THREADS
    /* Created first, so destroyed after dtp_child_exit has run. */
    if (apr_thread_mutex_create(&dtp_open_lock, APR_THREAD_MUTEX_DEFAULT,
                                pchild) != APR_SUCCESS) {
        dtp_open_lock = NULL;
        dtp_pchild = NULL;      /* no list without its lock */
        return;
    }
#endif
    apr_pool_cleanup_register(pchild, NULL, dtp_child_exit,
                              apr_pool_cleanup_null);
}

static DTP_COLD int dtp_pre_connection_traced(conn_rec *c)
{
    dtp_conn_t *cs;

    if (c->master != NULL) {
        return OK;              /* HTTP/2 secondary: not a client connection */
    }
    /* The id now, on the connection's own thread: its HTTP/2 requests run on
     * other threads, which may read this state but never create it. */
    cs = dtp_conn_state(c, 1);
    if (!HTTPD_CONN_START_ENABLED() && !HTTPD_CONN_DONE_ENABLED()) {
        return OK;              /* only request probes are traced */
    }
    cs->c = c;
    cs->start = apr_time_now();
    cs->started = 1;
    apr_pool_cleanup_register(c->pool, cs, dtp_conn_cleanup,
                              apr_pool_cleanup_null);
    if (dtp_pchild != NULL && !apr_pool_is_ancestor(dtp_pchild, c->pool)) {
        dtp_open_add(cs);       /* its pool outlives the child */
    }
    if (HTTPD_CONN_DONE_ENABLED()) {
        ap_add_input_filter_handle(dtp_in_filter_handle, cs, NULL, c);
        ap_add_output_filter_handle(dtp_out_filter_handle, cs, NULL, c);
    }
    if (HTTPD_CONN_START_ENABLED()) {
        HTTPD_CONN_START(cs->id, dtp_str(c->client_ip),
                         c->client_addr ? (int)c->client_addr->port : 0,
                         dtp_str(c->local_ip),
                         c->local_addr ? (int)c->local_addr->port : 0);
    }
    return OK;
}

/* pre_connection (RUN_ALL, really first so every accepted connection is
 * seen): conn-start, the state conn-done needs, and the connection id the
 * requests on it report. */
static int dtp_pre_connection(conn_rec *c, void *csd)
{
    (void)csd;
    if (DTP_UNLIKELY(HTTPD_CONN_START_ENABLED() || HTTPD_CONN_DONE_ENABLED()
                     || HTTPD_REQUEST_START_ENABLED()
                     || HTTPD_REQUEST_DONE_ENABLED())) {
        return dtp_pre_connection_traced(c);
    }
    return OK;
}

/* pre_close_connection (RUN_ALL): the end of conn-done's duration, before
 * lingering close so the duration is the client's; conn-done itself fires
 * from the pool cleanup (see dtp_conn_cleanup). */
static int dtp_pre_close_connection(conn_rec *c)
{
    if (DTP_UNLIKELY(HTTPD_CONN_DONE_ENABLED())) {
        dtp_conn_t *cs = ap_get_module_config(c->conn_config,
                                              &dtprovider_module);
        if (cs != NULL && c->master == NULL) {
            cs->end = apr_time_now();
        }
    }
    return OK;
}

/* The id of the client connection a request is on: 0 when an HTTP/2
 * request's primary connection was accepted before tracing began. */
static apr_uint64_t dtp_request_conn_id(request_rec *r, dtp_conn_t **csp)
{
    conn_rec *c = dtp_client_conn(r->connection);
    dtp_conn_t *cs = dtp_conn_state(c, c == r->connection);

    *csp = cs;
    return cs != NULL ? cs->id : 0;
}

/* ------------------------------------------------------------------------ */
/* Phases                                                                    */
/* ------------------------------------------------------------------------ */

static const char *const dtp_phase_names[] = {
    "read", "translate", "access", "type", "handler", "log", "end"
};

/* Fire request-phase: phase `phase` of the request `rs` begins on `uri`. */
static void dtp_phase(dtp_req_t *rs, int phase, const char *uri)
{
    apr_time_t now;

    if (!HTTPD_REQUEST_PHASE_ENABLED()) {
        return;
    }
    now = apr_time_now();
    HTTPD_REQUEST_PHASE(rs->id, phase, dtp_str(dtp_phase_names[phase]),
                        dtp_str(uri),
                        (uint64_t)(now > rs->start ? now - rs->start : 0),
                        &rs->pools);
}

/* The state of a request of a traced client request (internal redirects
 * included), or NULL: subrequests, and requests read before tracing began,
 * have none. */
static dtp_req_t *dtp_req_state(request_rec *r)
{
    return ap_get_module_config(r->request_config, &dtprovider_module);
}

/* The request pool's cleanup: the request is over (phase end). */
static apr_status_t dtp_req_cleanup(void *data)
{
    dtp_phase(data, HTTPD_PHASE_END, ((dtp_req_t *)data)->uri);
    return APR_SUCCESS;
}

/* An internal redirect (r->prev set): the new request_rec carries on the
 * client request's state, and its phases start again at translate. */
static int dtp_internal_redirect(request_rec *r)
{
    dtp_req_t *rs = dtp_req_state(r->prev);

    if (rs == NULL) {
        return DECLINED;
    }
    ap_set_module_config(r->request_config, &dtprovider_module, rs);
    if (HTTPD_INTERNAL_REDIRECT_ENABLED()) {
        HTTPD_INTERNAL_REDIRECT(rs->id, dtp_str(r->prev->uri), dtp_str(r->uri),
                                r->prev->status, HTTPD_REDIRECT_NEW);
    }
    dtp_phase(rs, HTTPD_PHASE_TRANSLATE, r->uri);
    return DECLINED;
}

/* Fill request-phase's struct httpd_request_pools: a few stores, made only
 * while a request probe is traced. */
static void dtp_req_pools(dtp_req_t *rs, request_rec *r, apr_uint64_t conn_id)
{
    rs->pools.version = HTTPD_REQUEST_POOLS_VERSION;
    rs->pools.size = sizeof(rs->pools);
    rs->pools.conn_id = conn_id;
    rs->pools.request_pool = (uintptr_t)r->pool;
    rs->pools.conn_pool = (uintptr_t)dtp_client_conn(r->connection)->pool;
    rs->pools.process_pool = (uintptr_t)r->server->process->pool;
}

static DTP_COLD int dtp_post_read_request_traced(request_rec *r)
{
    dtp_req_t *rs;
    dtp_conn_t *cs;
    apr_uint64_t conn_id = 0;

    if (r->main != NULL) {
        return DECLINED;        /* subrequest */
    }
    if (r->prev != NULL) {
        return dtp_internal_redirect(r);
    }
    rs = apr_pcalloc(r->pool, sizeof(*rs));
    rs->id = dtp_next_id(&dtp_ids->request);
    /* A copy: the core decodes and normalizes r->uri in place later. */
    rs->uri = apr_pstrdup(r->pool, dtp_str(r->uri));
    rs->start = r->request_time;
    ap_set_module_config(r->request_config, &dtprovider_module, rs);
    apr_pool_cleanup_register(r->pool, rs, dtp_req_cleanup,
                              apr_pool_cleanup_null);
    if (HTTPD_REQUEST_START_ENABLED() || HTTPD_REQUEST_PHASE_ENABLED()) {
        conn_id = dtp_request_conn_id(r, &cs);
        dtp_req_pools(rs, r, conn_id);
    }
    if (HTTPD_REQUEST_START_ENABLED()) {
        HTTPD_REQUEST_START(rs->id, conn_id, dtp_str(r->method), rs->uri,
                            dtp_str(r->useragent_ip),
                            dtp_str(r->server->server_hostname));
    }
    dtp_phase(rs, HTTPD_PHASE_TRANSLATE, r->uri);
    return DECLINED;
}

/* post_read_request (RUN_ALL, really last so mod_remoteip has set
 * r->useragent_ip and the read phase is over): request-start, once per
 * client request, the id and uri request-done will report, and the state
 * internal redirects (which run this hook again) inherit. */
static int dtp_post_read_request(request_rec *r)
{
    if (DTP_UNLIKELY(DTP_REQUEST_PROBES_ENABLED())) {
        return dtp_post_read_request_traced(r);
    }
    return DECLINED;
}

static DTP_COLD int dtp_access_checker_traced(request_rec *r)
{
    dtp_req_t *rs = dtp_req_state(r);

    if (rs != NULL) {
        dtp_phase(rs, HTTPD_PHASE_ACCESS, r->uri);
    }
    return DECLINED;
}

/* access_checker (RUN_ALL, first of all): the access phase begins. Apache
 * runs access checkers first among the auth hooks whatever Satisfy says, and
 * skips all of them for an internal redirect or subrequest whose
 * per-directory configuration is the one already checked. */
static int dtp_access_checker(request_rec *r)
{
    if (DTP_UNLIKELY(HTTPD_REQUEST_PHASE_ENABLED())) {
        return dtp_access_checker_traced(r);
    }
    return DECLINED;
}

static DTP_COLD int dtp_type_checker_traced(request_rec *r)
{
    dtp_req_t *rs = dtp_req_state(r);

    if (rs != NULL) {
        rs->type_uri = r->uri;
        dtp_phase(rs, HTTPD_PHASE_TYPE, r->uri);
    }
    return DECLINED;
}

/* type_checker (RUN_FIRST, first of all, DECLINED so the real type checkers
 * run): the type phase (type checking, fixups, filters) begins. */
static int dtp_type_checker(request_rec *r)
{
    if (DTP_UNLIKELY(HTTPD_REQUEST_PHASE_ENABLED()
                     || HTTPD_INTERNAL_REDIRECT_ENABLED())) {
        return dtp_type_checker_traced(r);
    }
    return DECLINED;
}

static DTP_COLD int dtp_handler_traced(request_rec *r)
{
    dtp_req_t *rs = dtp_req_state(r);

    if (rs == NULL) {
        return DECLINED;
    }
    /* A different uri since the type phase began: mod_dir or mod_negotiation
     * adopted a subrequest in place (ap_internal_fast_redirect). mod_rewrite
     * changes r->uri earlier, in translate, so it is not taken for one. */
    if (rs->type_uri != NULL && r->uri != NULL && rs->type_uri != r->uri
        && strcmp(rs->type_uri, r->uri) != 0
        && HTTPD_INTERNAL_REDIRECT_ENABLED()) {
        HTTPD_INTERNAL_REDIRECT(rs->id, dtp_str(rs->type_uri), dtp_str(r->uri),
                                r->status, HTTPD_REDIRECT_FAST);
    }
    rs->type_uri = NULL;
    dtp_phase(rs, HTTPD_PHASE_HANDLER, r->uri);
    return DECLINED;
}

/* handler (RUN_FIRST, first of all, DECLINED so the real handler runs): the
 * handler phase begins; it lasts until logging. */
static int dtp_handler(request_rec *r)
{
    if (DTP_UNLIKELY(HTTPD_REQUEST_PHASE_ENABLED()
                     || HTTPD_INTERNAL_REDIRECT_ENABLED())) {
        return dtp_handler_traced(r);
    }
    return DECLINED;
}

static DTP_COLD int dtp_log_transaction_traced(request_rec *r)
{
    struct httpd_request_info info;
    char trace_id[DTP_TRACE_ID_LEN + 1], parent_id[DTP_PARENT_ID_LEN + 1];
    const request_rec *last = r;
    dtp_req_t *rs = dtp_req_state(r);
    dtp_conn_t *cs;
    conn_rec *c = r->connection;
    apr_time_t now;

    if (rs != NULL) {
        dtp_phase(rs, HTTPD_PHASE_LOG, rs->uri);
    }
    /* Counted whenever state exists, so conn-done's count holds even when
     * only conn-done is traced. */
    info.conn_id = dtp_request_conn_id(r, &cs);
    if (cs != NULL) {
        __atomic_add_fetch(&cs->requests, 1, __ATOMIC_RELAXED);
        if (HTTPD_CONN_DONE_ENABLED()) {
            cs->last = apr_time_now();  /* for conn-done's reason */
        }
    }
    if (!HTTPD_REQUEST_DONE_ENABLED()) {
        return DECLINED;
    }

    while (last->next != NULL) {    /* the status %>s logs */
        last = last->next;
    }
    now = apr_time_now();

    info.version = HTTPD_REQUEST_INFO_VERSION;
    info.size = sizeof(info);
    info.id = rs != NULL ? rs->id : dtp_next_id(&dtp_ids->request);
    info.bytes_in = r->read_length > 0 ? (apr_uint64_t)r->read_length : 0;
    /* %B: the body the final request of an ErrorDocument chain sent; a
     * HEAD response sends none though bytes_sent holds its length */
    info.bytes_out = last->sent_bodyct && last->bytes_sent > 0
                     ? (apr_uint64_t)last->bytes_sent : 0;
    info.start_us = (apr_uint64_t)r->request_time;
    info.latency_us = now > r->request_time
                      ? (apr_uint64_t)(now - r->request_time) : 0;
    info.status = last->status;
    info.local_port = c->local_addr ? c->local_addr->port : 0;
    info.peer_port = c->client_addr ? c->client_addr->port : 0;
    info.method = (uintptr_t)dtp_str(r->method);
    info.uri = (uintptr_t)(rs != NULL ? rs->uri : dtp_str(r->uri));
    info.query = (uintptr_t)dtp_str(r->args);
    info.protocol = (uintptr_t)dtp_str(r->protocol);
    info.vhost = (uintptr_t)dtp_str(r->server->server_hostname);
    info.handler = (uintptr_t)dtp_str(last->handler);
    info.local_ip = (uintptr_t)dtp_str(c->local_ip);
    info.peer_ip = (uintptr_t)dtp_str(c->client_ip);
    info.useragent_ip = (uintptr_t)dtp_str(r->useragent_ip);
    info.user_agent = (uintptr_t)dtp_str(apr_table_get(r->headers_in,
                                                       "User-Agent"));
    dtp_traceparent(apr_table_get(r->headers_in, "traceparent"), trace_id,
                    parent_id);
    info.trace_id = (uintptr_t)dtp_str(trace_id);
    info.parent_id = (uintptr_t)dtp_str(parent_id);

    HTTPD_REQUEST_DONE(info.id, info.status, info.latency_us,
                       (const char *)(uintptr_t)info.method,
                       (const char *)(uintptr_t)info.uri, &info);
    return DECLINED;
}

/* log_transaction (RUN_ALL, really first so no logger can cut it off):
 * the log phase begins, request-done, once per access-log line; also counts
 * the request on its connection for conn-done. */
static int dtp_log_transaction(request_rec *r)
{
    if (DTP_UNLIKELY(DTP_LOG_PROBES_ENABLED())) {
        return dtp_log_transaction_traced(r);
    }
    return DECLINED;
}

/* ------------------------------------------------------------------------ */
/* Configuration                                                             */
/* ------------------------------------------------------------------------ */

/* Apache calls every registered hook on every request, so a hook costs its
 * dispatch (about 10 instructions) even when its body is one semaphore
 * test. The access, type and handler hooks serve only the phase probes (and
 * internal-redirect's kind 1), so they are registered only where the
 * configuration asks for them. */
static int dtp_phases_registered;

/* Apache drops every hook when it re-reads the configuration (restart), and
 * clears the configuration pool then: forget the registration with it, in
 * case the module stays mapped across the restart. */
static apr_status_t dtp_phases_forget(void *data)
{
    (void)data;
    dtp_phases_registered = 0;
    return APR_SUCCESS;
}

/* DTraceProviderPhases On|Off (server config, Off by default). Runs while the
 * configuration is read (EXEC_ON_READ, like LoadModule), before Apache sorts
 * the hooks, so hooks registered here take their place as if registered at
 * load. A graceful restart reloads the module and reads it again. Hooks are
 * server-wide, and so is the directive: like LoadModule's, its context check
 * cannot see sections at read time (cmd->directive is not set yet). */
static const char *dtp_cmd_phases(cmd_parms *cmd, void *dummy, int on)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dummy;
    if (err != NULL) {
        return err;
    }
    if (on && !dtp_phases_registered) {
        ap_hook_access_checker(dtp_access_checker, NULL, NULL,
                               DTP_HOOK_FIRST);
        ap_hook_type_checker(dtp_type_checker, NULL, NULL, DTP_HOOK_FIRST);
        ap_hook_handler(dtp_handler, NULL, NULL, DTP_HOOK_FIRST);
        dtp_phases_registered = 1;
        apr_pool_cleanup_register(cmd->pool, NULL, dtp_phases_forget,
                                  apr_pool_cleanup_null);
    }
    return NULL;
}

static const command_rec dtp_cmds[] = {
    AP_INIT_FLAG("DTraceProviderPhases", dtp_cmd_phases, NULL,
                 RSRC_CONF | EXEC_ON_READ,
                 "On: fire request-phase for the access, type and handler "
                 "phases too (three more hooks on every request)"),
    {NULL}
};

static void dtp_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_config(dtp_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(dtp_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_pre_connection(dtp_pre_connection, NULL, NULL,
                           APR_HOOK_REALLY_FIRST);
    ap_hook_pre_close_connection(dtp_pre_close_connection, NULL, NULL,
                                 APR_HOOK_MIDDLE);
    ap_hook_post_read_request(dtp_post_read_request, NULL, NULL,
                              APR_HOOK_REALLY_LAST);
    ap_hook_log_transaction(dtp_log_transaction, NULL, NULL,
                            APR_HOOK_REALLY_FIRST);
    dtp_in_filter_handle = ap_register_input_filter("DTPROVIDER_IN",
        dtp_in_filter, NULL, AP_FTYPE_NETWORK - 1);
    dtp_out_filter_handle = ap_register_output_filter("DTPROVIDER_OUT",
        dtp_out_filter, NULL, AP_FTYPE_NETWORK - 1);
}

AP_DECLARE_MODULE(dtprovider) = {
    STANDARD20_MODULE_STUFF,
    NULL,                       /* per-directory config creator */
    NULL,                       /* dir config merger */
    NULL,                       /* server config creator */
    NULL,                       /* server config merger */
    dtp_cmds,                   /* command table */
    dtp_register_hooks,         /* set up other request processing hooks */
    AP_MODULE_FLAG_NONE
};
