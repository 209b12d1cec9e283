/*
 * leak.h - the model of `httpdtrace pools -L`: what requests leave in
 * pools that outlive them, summed per connection (its connection pool) and
 * per child process (its child and configuration pools), with the uris of
 * the requests that put it there. Pure: no I/O, so the unit tests hold it.
 */
#ifndef POOLS_LEAK_H
#define POOLS_LEAK_H

#include <stdbool.h>
#include "lib/sizes.h"

#define LEAK_URIS 4             /* uris kept per row, the first seen */

struct leak_uri {
	char uri[STR_URI];
	unsigned long long bytes;
};

/* A connection (conn_id != 0) or a child process (conn_id 0). */
struct leak_row {
	unsigned int pid;
	unsigned long long conn_id;
	unsigned long long requests;  /* requests counted on it */
	unsigned long long bytes;     /* allocated from its long-lived pools */
	unsigned long long blocks;    /* block fetches of those allocations */
	struct leak_uri uris[LEAK_URIS]; /* uris that allocated, bytes each */
	int nuris;
	unsigned long long more_bytes; /* bytes of uris beyond LEAK_URIS */
};

/* One request's part: allocated from its connection's and its child's pools. */
struct leak_req {
	unsigned int pid;
	unsigned long long conn_id;   /* 0: unknown (no row for it) */
	const char *uri;
	unsigned long long conn_bytes, conn_blocks;
	unsigned long long child_bytes, child_blocks;
};

/* Add a request to its connection's and child's rows (made when new).
 * Returns false when out of memory; *conn and *child (either may be NULL)
 * point to the rows after the addition (NULL: no row). */
bool leak_add(const struct leak_req *r, const struct leak_row **conn,
	      const struct leak_row **child);

/* The rows, the most bytes first (connections and children mixed; ties by
 * pid, then connection), each row's uris the most bytes first. *n gets
 * their count. Valid until the next leak_add(). */
const struct leak_row *leak_rows(int *n);

void leak_free(void);

#endif /* POOLS_LEAK_H */
