/*
 * test_traceparent.c - the W3C traceparent header as the module reads it
 * (module/traceparent.c): the recommendation's valid and invalid forms.
 */
#include "traceparent.h"
#include "unit.h"

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define PID "00f067aa0ba902b7"

/* 1 and the ids, or 0 with both empty */
static int tp(const char *v, const char *want_trace, const char *want_parent)
{
	char trace[DTP_TRACE_ID_LEN + 1] = "x", parent[DTP_PARENT_ID_LEN + 1] = "x";
	int ok = dtp_traceparent(v, trace, parent);

	CHECK_STR(trace, want_trace);
	CHECK_STR(parent, want_parent);
	return ok;
}

void test_traceparent(void)
{
	/* the recommendation's example, sampled and not */
	CHECK(tp("00-" TID "-" PID "-01", TID, PID) == 1);
	CHECK(tp("00-" TID "-" PID "-00", TID, PID) == 1);
	/* a later version may go on after a '-'; 00 may not go on at all */
	CHECK(tp("01-" TID "-" PID "-01", TID, PID) == 1);
	CHECK(tp("cc-" TID "-" PID "-01-what-the-future-holds", TID, PID) == 1);
	CHECK(tp("cc-" TID "-" PID "-01what", "", "") == 0);
	CHECK(tp("00-" TID "-" PID "-01-", "", "") == 0);
	CHECK(tp("00-" TID "-" PID "-01, 00-" TID "-" PID "-01", "", "") == 0);
	/* version ff, all-zero ids, uppercase, wrong lengths and separators */
	CHECK(tp("ff-" TID "-" PID "-01", "", "") == 0);
	CHECK(tp("00-00000000000000000000000000000000-" PID "-01", "", "") == 0);
	CHECK(tp("00-" TID "-0000000000000000-01", "", "") == 0);
	CHECK(tp("00-4BF92F3577B34DA6A3CE929D0E0E4736-" PID "-01", "", "") == 0);
	CHECK(tp("0A-" TID "-" PID "-01", "", "") == 0);
	CHECK(tp("00-" TID "-" PID "-0g", "", "") == 0);
	CHECK(tp("00-" TID "-" PID "-1", "", "") == 0);
	CHECK(tp("00-" TID "1-" PID "-01", "", "") == 0);
	CHECK(tp("00_" TID "-" PID "-01", "", "") == 0);
	CHECK(tp(" 00-" TID "-" PID "-01", "", "") == 0);
	/* a client's other bytes never get through: only lowercase hex is copied */
	CHECK(tp("00-" TID "-" PID "-0\x1b", "", "") == 0);
	CHECK(tp("00-4bf92f3577b34da6a3ce929d0e0e473\xff-" PID "-01", "", "") == 0);
	CHECK(tp("00-4bf92f3577b34da6\n3ce929d0e0e4736-" PID "-01", "", "") == 0);
	CHECK(tp("", "", "") == 0);
	CHECK(tp(NULL, "", "") == 0);
}
