/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/*
 * mod_pooltest.c: a test module for `httpdtrace pools` (tests/tools/
 * test_pools_kinds.py builds it with apxs). Its handler, "pooltest",
 * allocates known amounts from pools of known lifetimes, so the tool's
 * figures can be checked exactly against libapr's allocation rules.
 *
 * A request for a uri ending in "a" allocates:
 *   - request: from a new subpool of r->pool, 8 x 1024 bytes, then
 *     3 x 20000 bytes;
 *   - connection: 20000 bytes from c->pool;
 *   - child: 20000 bytes from the child's pool (child_init's pchild), and
 *     2048 bytes from a subpool of it made at child_init.
 * Any other uri makes the same subpool of r->pool and allocates nothing:
 * the same work for Apache otherwise, as a baseline.
 *
 * Why those sizes (libapr 1.7): a block the allocator hands out is at least
 * 8 KiB including its 40-byte header, rounded up to 4 KiB, and a new pool
 * keeps its own struct in its first block; apr_palloc() serves a request
 * from the pool's active block, else from the next one in its ring, else
 * fetches a new block. So 7 x 1024 fit in a new pool's first block and the
 * 8th needs a block; a 20000-byte allocation never fits in what any block
 * of these pools has left (at most 8152 bytes, or 4536 after one of ours)
 * and fetches one every time; and 2048-byte allocations from a new pool
 * fetch at the 4th, 7th, 10th... (three fit in each block).
 */

#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "apr_strings.h"
#include "apr_thread_mutex.h"

module AP_MODULE_DECLARE_DATA pooltest_module;

#define PT_SMALL     1024
#define PT_SMALL_N   8
#define PT_BIG       20000
#define PT_BIG_N     3
#define PT_CHILD_SUB 2048

static apr_pool_t *pt_child;        /* the child's pool */
static apr_pool_t *pt_child_sub;    /* a subpool of it */
static apr_thread_mutex_t *pt_lock; /* the child's pools are shared by its
                                     * threads */

/* child_init (RUN_ALL): keep the child's pool and make the subpool. */
static void pt_child_init(apr_pool_t *pchild, server_rec *s)
{
    (void)s;
    pt_child = pchild;
    apr_pool_create(&pt_child_sub, pchild);
    apr_thread_mutex_create(&pt_lock, APR_THREAD_MUTEX_DEFAULT, pchild);
}

/* handler (RUN_FIRST): the "pooltest" handler, see the top of the file. */
static int pt_handler(request_rec *r)
{
    apr_pool_t *sub;
    size_t len;
    int alloc;

    if (r->handler == NULL || strcmp(r->handler, "pooltest") != 0) {
        return DECLINED;
    }
    len = strlen(r->uri);
    alloc = len > 0 && r->uri[len - 1] == 'a';
    apr_pool_create(&sub, r->pool);
    if (alloc) {
        for (int i = 0; i < PT_SMALL_N; i++) {
            apr_palloc(sub, PT_SMALL);
        }
        for (int i = 0; i < PT_BIG_N; i++) {
            apr_palloc(sub, PT_BIG);
        }
        apr_palloc(r->connection->pool, PT_BIG);
        apr_thread_mutex_lock(pt_lock);
        apr_palloc(pt_child, PT_BIG);
        apr_palloc(pt_child_sub, PT_CHILD_SUB);
        apr_thread_mutex_unlock(pt_lock);
    }
    ap_set_content_type(r, "text/plain");
    /* as long either way: Content-Length is formatted in r->pool too */
    ap_rputs(alloc ? "a\n" : "0\n", r);
    return OK;
}

static void pt_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_child_init(pt_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(pt_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(pooltest) = {
    STANDARD20_MODULE_STUFF,
    NULL, NULL, NULL, NULL, NULL,
    pt_register_hooks,
    AP_MODULE_FLAG_NONE
};
