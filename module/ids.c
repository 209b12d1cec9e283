/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
 * WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 */

/*
 * ids.c: request and connection ids.
 *
 * They come from two 64-bit counters in anonymous shared memory created by
 * the parent at first start-up, so they are unique across all children and
 * never reused while the parent lives (graceful restarts included). Ids
 * start at 1; 0 means "unknown". Counters are bumped only while traced.
 */
#include "dtp_private.h"

#include "apr_shm.h"

#include <unistd.h>

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

/* Next value of a counter. When shared memory was refused, each process
 * counts on its own with its pid in the top 22 bits, so ids stay unique
 * across live processes. */
static apr_uint64_t dtp_next_id(apr_uint64_t *counter)
{
    apr_uint64_t n = __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);

    if (dtp_ids == &dtp_ids_local) {
        n |= (apr_uint64_t)getpid() << 42;
    }
    return n;
}

apr_uint64_t dtp_next_request_id(void)
{
    return dtp_next_id(&dtp_ids->request);
}

apr_uint64_t dtp_next_conn_id(void)
{
    return dtp_next_id(&dtp_ids->conn);
}

/* In the parent at post_config: find or create the shared counters. They
 * hang off the process pool, so they outlive graceful restarts (which unload
 * and reload this module) and every child inherits them. */
void dtp_ids_init(server_rec *s)
{
    apr_pool_t *pproc = s->process->pool;
    apr_shm_t *shm = NULL;
    void *data = NULL;
    apr_status_t rv;

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
}
