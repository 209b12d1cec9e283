/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
 * WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 */

/*
 * probes/requests.c: request-start, request-done (with its struct
 * httpd_request_info, mod_dtprovider.h) and internal-redirect's kind 0.
 *
 * A request gets its id when it has been read (post_read_request) while a
 * request probe is traced; a request that never got there (400/408/414, or
 * one in flight when tracing began) gets a fresh one at request-done.
 *
 * Per request (r->request_config, from r->pool): the id and the uri the
 * client asked for, kept at post_read_request so request-done reports the
 * same uri as request-start even after mod_dir or mod_rewrite changed r->uri.
 * An internal redirect's new request_rec gets the same state (same id).
 * While request-start or request-phase is traced it also holds the
 * request's pools (probes/pools.c), whose address request-phase passes.
 */
#include "dtp_private.h"
#include "traceparent.h"

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
    rs->id = dtp_next_request_id();
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
DTP_REQUEST_HOOK(dtp_post_read_request, DTP_REQUEST_PROBES_ENABLED())

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
    info.id = rs != NULL ? rs->id : dtp_next_request_id();
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
DTP_REQUEST_HOOK(dtp_log_transaction, DTP_LOG_PROBES_ENABLED())
