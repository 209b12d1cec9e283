/*
 * pools.h - the counters of `httpdtrace pools` (indexes into
 * charge_event.v).
 */
#ifndef POOLS_H
#define POOLS_H

#define POOLS_PALLOC_CALLS 0
#define POOLS_PALLOC_BYTES 1
#define POOLS_MALLOC_CALLS 2
#define POOLS_MALLOC_BYTES 3

#endif /* POOLS_H */
