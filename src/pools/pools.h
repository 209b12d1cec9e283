/*
 * pools.h - the counters of `httpdtrace pools` (indexes into
 * charge_event.v): apr_palloc() calls, bytes and block fetches, malloc()
 * calls and bytes, then the palloc triple again per kind of pool
 * (POOLS_KIND(kind, what)).
 */
#ifndef POOLS_H
#define POOLS_H

#define POOLS_PALLOC_CALLS 0
#define POOLS_PALLOC_BYTES 1
#define POOLS_BLOCKS       2  /* pallocs that fetched a block from the allocator */
#define POOLS_MALLOC_CALLS 3
#define POOLS_MALLOC_BYTES 4

/* The kinds of pool an apr_palloc() can go to, the nearest first. */
#define POOLS_REQUEST 0       /* the request's pool or one under it */
#define POOLS_CONN    1       /* its connection's pool or one under it */
#define POOLS_CHILD   2       /* any other pool under the process pool:
			       * configuration, child, other connections */
#define POOLS_OTHER   3       /* none of these (unmanaged pools, pools too
			       * deep to tell, an old module) */
#define POOLS_KINDS   4

#define POOLS_CALLS  0
#define POOLS_BYTES  1
#define POOLS_BLKS   2
#define POOLS_KIND(kind, what) (5 + 3 * (kind) + (what))
#define POOLS_COUNTERS POOLS_KIND(POOLS_KINDS, 0)

#endif /* POOLS_H */
