/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
 * WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 */

/*
 * probes/phases.c: request-phase, the phases of a client request, and
 * internal-redirect's kind 1 (a subrequest adopted in place, seen when the
 * handler phase begins).
 *
 * request-phase fires when a phase of a client request begins; the
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
 * handler), log and end. The hooks of probes/requests.c begin translate
 * and log; the others begin here.
 */
#include "dtp_private.h"

static const char *const dtp_phase_names[] = {
    "read", "translate", "access", "type", "handler", "log", "end"
};

/* Fire request-phase: phase `phase` of the request `rs` begins on `uri`. */
void dtp_phase(dtp_req_t *rs, int phase, const char *uri)
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

/* The request pool's cleanup: the request is over (phase end). */
apr_status_t dtp_req_cleanup(void *data)
{
    dtp_phase(data, HTTPD_PHASE_END, ((dtp_req_t *)data)->uri);
    return APR_SUCCESS;
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
DTP_REQUEST_HOOK(dtp_access_checker, HTTPD_REQUEST_PHASE_ENABLED())

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
DTP_REQUEST_HOOK(dtp_type_checker, HTTPD_REQUEST_PHASE_ENABLED()
                 || HTTPD_INTERNAL_REDIRECT_ENABLED())

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
DTP_REQUEST_HOOK(dtp_handler, HTTPD_REQUEST_PHASE_ENABLED()
                 || HTTPD_INTERNAL_REDIRECT_ENABLED())
