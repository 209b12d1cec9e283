/*
 * test_pools_leak.c - the model of `httpdtrace pools -L` (src/pools/leak.c):
 * running totals per connection and per child, the uris kept per row, and
 * the order of the rows.
 */
#include "pools/leak.h"
#include "unit.h"

static void add(unsigned int pid, unsigned long long conn, const char *uri,
		unsigned long long conn_bytes, unsigned long long child_bytes,
		const struct leak_row **c, const struct leak_row **p)
{
	struct leak_req q = { pid, conn, uri, conn_bytes, conn_bytes ? 1 : 0, child_bytes,
			      child_bytes ? 1 : 0 };

	CHECK(leak_add(&q, c, p));
}

/* A row's (pid, connection, requests, bytes). */
#define CHECK_ROW(r, pid_, conn_, reqs, bytes_)                                   \
	do {                                                                      \
		CHECK_U64((r)->pid, pid_);                                        \
		CHECK_U64((r)->conn_id, conn_);                                   \
		CHECK_U64((r)->requests, reqs);                                   \
		CHECK_U64((r)->bytes, bytes_);                                    \
	} while (0)

static void test_totals(void)
{
	const struct leak_row *c, *p;

	add(10, 1, "/a", 100, 0, &c, &p);
	CHECK_ROW(c, 10, 1, 1, 100);
	CHECK_ROW(p, 10, 0, 1, 0);
	CHECK_U64(p->nuris, 0);
	add(10, 1, "/a", 100, 50, &c, &p);
	CHECK_ROW(c, 10, 1, 2, 200);
	CHECK_ROW(p, 10, 0, 2, 50);
	CHECK_U64(c->blocks, 2);
	/* another connection of the same child: its own row, the child's grows */
	add(10, 2, "/b", 30, 50, &c, &p);
	CHECK_ROW(c, 10, 2, 1, 30);
	CHECK_ROW(p, 10, 0, 3, 100);
	/* another child, and a request whose connection is unknown */
	add(11, 0, "/c", 999, 7, &c, &p);
	CHECK(c == NULL);
	CHECK_ROW(p, 11, 0, 1, 7);
	leak_free();
}

static void test_uris_and_order(void)
{
	const struct leak_row *rows, *c;
	char uri[8];
	int n;

	add(20, 5, "/small", 10, 0, &c, NULL);
	add(20, 5, "/big", 1000, 0, &c, NULL);
	add(20, 5, "/small", 10, 0, &c, NULL);
	add(20, 5, "/none", 0, 0, &c, NULL); /* counted, not listed */
	for (int i = 0; i < LEAK_URIS; i++) {
		snprintf(uri, sizeof(uri), "/m%d", i);
		add(20, 5, uri, 1, 0, &c, NULL);
	}
	CHECK_U64(c->requests, 4 + LEAK_URIS);
	CHECK_U64(c->nuris, LEAK_URIS);
	CHECK_U64(c->more_bytes, LEAK_URIS - 2);
	add(21, 6, "/x", 500, 2000, NULL, NULL);
	rows = leak_rows(&n);
	CHECK_U64(n, 4);
	/* the most bytes first: child 21, connection 5, connection 6, child 20 */
	CHECK_ROW(&rows[0], 21, 0, 1, 2000);
	CHECK_ROW(&rows[1], 20, 5, 4 + LEAK_URIS, 1000 + 2 * 10 + LEAK_URIS);
	CHECK_ROW(&rows[2], 21, 6, 1, 500);
	CHECK_ROW(&rows[3], 20, 0, 4 + LEAK_URIS, 0);
	/* a row's uris, the most bytes first */
	CHECK_STR(rows[1].uris[0].uri, "/big");
	CHECK_U64(rows[1].uris[0].bytes, 1000);
	CHECK_STR(rows[1].uris[1].uri, "/small");
	CHECK_U64(rows[1].uris[1].bytes, 20);
	CHECK_STR(rows[1].uris[2].uri, "/m0");
	leak_free();
	rows = leak_rows(&n);
	CHECK_U64(n, 0);
}

void test_pools_leak(void)
{
	test_totals();
	test_uris_and_order();
}
