/*
 * leak.c - the model of `httpdtrace pools -L` (leak.h): rows
 * per connection and per child in one array, found by a linear scan from
 * the newest (a request's connection is almost always among the last
 * ones seen).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "leak.h"

static struct leak_row *rows;
static int nrows, cap;

/* The row of (pid, conn_id), made when new; NULL when out of memory. */
static struct leak_row *row(unsigned int pid, unsigned long long conn_id)
{
	for (int i = nrows - 1; i >= 0; i--)
		if (rows[i].pid == pid && rows[i].conn_id == conn_id)
			return &rows[i];
	if (nrows == cap) {
		int ncap = cap ? 2 * cap : 64;
		struct leak_row *n = realloc(rows, (size_t)ncap * sizeof(*n));

		if (!n)
			return NULL;
		rows = n;
		cap = ncap;
	}
	memset(&rows[nrows], 0, sizeof(rows[0]));
	rows[nrows].pid = pid;
	rows[nrows].conn_id = conn_id;
	return &rows[nrows++];
}

/* Count one request of `uri` with `bytes` in `blocks` on row r. */
static void row_add(struct leak_row *r, const char *uri, unsigned long long bytes,
		    unsigned long long blocks)
{
	int i;

	r->requests++;
	r->bytes += bytes;
	r->blocks += blocks;
	if (!bytes)
		return;
	for (i = 0; i < r->nuris; i++)
		if (!strcmp(r->uris[i].uri, uri))
			break;
	if (i == r->nuris) {
		if (r->nuris == LEAK_URIS) {
			r->more_bytes += bytes;
			return;
		}
		snprintf(r->uris[i].uri, sizeof(r->uris[i].uri), "%s", uri);
		r->nuris++;
	}
	r->uris[i].bytes += bytes;
}

bool leak_add(const struct leak_req *q, const struct leak_row **conn,
	      const struct leak_row **child)
{
	struct leak_row *c = NULL, *p;

	/* Rows move when the array grows: the connection's is found again. */
	if (q->conn_id && !row(q->pid, q->conn_id))
		return false;
	p = row(q->pid, 0);
	if (!p)
		return false;
	if (q->conn_id) {
		c = row(q->pid, q->conn_id);
		row_add(c, q->uri, q->conn_bytes, q->conn_blocks);
	}
	row_add(p, q->uri, q->child_bytes, q->child_blocks);
	if (conn)
		*conn = c;
	if (child)
		*child = p;
	return true;
}

static int by_bytes(const void *a, const void *b)
{
	const struct leak_row *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->conn_id != y->conn_id)
		return x->conn_id < y->conn_id ? -1 : 1;
	return 0;
}

static int uri_by_bytes(const void *a, const void *b)
{
	const struct leak_uri *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return strcmp(x->uri, y->uri);
}

const struct leak_row *leak_rows(int *n)
{
	qsort(rows, (size_t)nrows, sizeof(rows[0]), by_bytes);
	for (int i = 0; i < nrows; i++)
		qsort(rows[i].uris, (size_t)rows[i].nuris, sizeof(rows[i].uris[0]), uri_by_bytes);
	*n = nrows;
	return rows;
}

void leak_free(void)
{
	free(rows);
	rows = NULL;
	nrows = cap = 0;
}
