/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
 * WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 */

/*
 * probes/connections.c: conn-start and conn-done, and the per-connection
 * state requests report (their connection id) and count themselves on.
 *
 * State (dtp_conn_t, c->conn_config, from c->pool): id, start time, bytes in
 * and out counted by two network-level filters (which also note end of
 * file, timeouts and errors, for conn-done's reason), requests logged. It
 * exists only for connections seen while something was traced. A connection
 * gets its id when it is accepted while traced, or when a traced request
 * first needs it. Connections whose pool outlives the child (event, worker)
 * are also listed per process while open, so a child that exits with them
 * open still fires their conn-done (dtp_open). HTTP/2 runs requests on
 * secondary connections (c->master != NULL) on several threads: they use the
 * primary connection's state, never create it, and count atomically.
 */
#include "dtp_private.h"

#include "ap_mpm.h"
#include "apr_thread_mutex.h"

ap_filter_rec_t *dtp_in_filter_handle;
ap_filter_rec_t *dtp_out_filter_handle;

/* The state of a client connection, created with a fresh id when `create` is
 * set and there is none. Only the thread that owns a primary connection may
 * create its state: HTTP/2 secondaries pass create = 0. */
static dtp_conn_t *dtp_conn_state(conn_rec *c, int create)
{
    dtp_conn_t *cs = ap_get_module_config(c->conn_config, &dtprovider_module);

    if (cs == NULL && create) {
        cs = apr_pcalloc(c->pool, sizeof(*cs));
        cs->id = dtp_next_conn_id();
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

/* Counts what the network gives the connection. Added (at pre_connection)
 * only to connections accepted while conn-done is traced; speculative reads
 * are not counted since the data will be read again. */
apr_status_t dtp_in_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                           ap_input_mode_t mode, apr_read_type_e block,
                           apr_off_t readbytes)
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
apr_status_t dtp_out_filter(ap_filter_t *f, apr_bucket_brigade *bb)
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

/* child_init (RUN_ALL), in each child: the pool whose destruction means the
 * process exits, and the list of open connections (see dtp_open). */
void dtp_child_init(apr_pool_t *pchild, server_rec *s)
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
int dtp_pre_connection(conn_rec *c, void *csd)
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
int dtp_pre_close_connection(conn_rec *c)
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

/* dtp_private.h says what it returns. */
apr_uint64_t dtp_request_conn_id(request_rec *r, dtp_conn_t **csp)
{
    conn_rec *c = dtp_client_conn(r->connection);
    dtp_conn_t *cs = dtp_conn_state(c, c == r->connection);

    *csp = cs;
    return cs != NULL ? cs->id : 0;
}
