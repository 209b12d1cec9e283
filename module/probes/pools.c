/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
 * WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 */

/*
 * probes/pools.c: the pools of a request, as request-phase passes them in
 * its last argument (struct httpd_request_pools, mod_dtprovider.h), so a
 * tracer of apr_palloc() (httpdtrace pools) can tell whether an allocation
 * went to the request's pool, its connection's or the process's.
 *
 * The struct lives in the request's state (dtp_req_t, from r->pool) and is
 * filled once, at post_read_request, while request-start or request-phase
 * is traced; every phase of the request passes the same address.
 */
#include "dtp_private.h"

/* Fill request-phase's struct httpd_request_pools: a few stores, made only
 * while a request probe is traced. */
void dtp_req_pools(dtp_req_t *rs, request_rec *r, apr_uint64_t conn_id)
{
    rs->pools.version = HTTPD_REQUEST_POOLS_VERSION;
    rs->pools.size = sizeof(rs->pools);
    rs->pools.conn_id = conn_id;
    rs->pools.request_pool = (uintptr_t)r->pool;
    rs->pools.conn_pool = (uintptr_t)dtp_client_conn(r->connection)->pool;
    rs->pools.process_pool = (uintptr_t)r->server->process->pool;
}
