/*
 * test_fmt.c - addresses, times and JSON strings (src/lib/fmt.c).
 */
#include <stdlib.h>
#include "lib/fmt.h"
#include "unit.h"

static char *json(const char *s)
{
	static char out[256];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fmt_json_str(f, s);
	fclose(f);
	snprintf(out, sizeof(out), "%s", buf);
	free(buf);
	return out;
}

void test_fmt(void)
{
	char b[64];

	CHECK_STR(fmt_addr(b, sizeof(b), "127.0.0.1", 80), "127.0.0.1:80");
	CHECK_STR(fmt_addr(b, sizeof(b), "::1", 8080), "[::1]:8080");
	CHECK_STR(fmt_addr(b, sizeof(b), "fe80::1:2", 443), "[fe80::1:2]:443");
	CHECK_STR(fmt_addr(b, sizeof(b), "", 0), "-");
	CHECK_STR(fmt_addr(b, 8, "127.0.0.1", 80), "127.0.0");

	CHECK_STR(fmt_elapsed(b, sizeof(b), 1000, 1000 + 1216000000ULL), "1.216");
	CHECK_STR(fmt_elapsed(b, sizeof(b), 5000, 4000), "0.000");
	CHECK_STR(fmt_elapsed(b, sizeof(b), 0, 62003000000ULL), "62.003");

	setenv("TZ", "UTC", 1);
	/* 2026-11-22 15:31:11.123456 UTC */
	CHECK_STR(fmt_clock(b, sizeof(b), 1795361471123456ULL), "15:31:11.123");

	CHECK_STR(json(""), "\"\"");
	CHECK_STR(json("/a b"), "\"/a b\"");
	CHECK_STR(json("q\"x\\y"), "\"q\\\"x\\\\y\"");
	CHECK_STR(json("a\nb\tc\rd\001e\177"), "\"a\\nb\\tc\\rd\\u0001e\\u007f\"");
	CHECK_STR(json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
		  "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	/* invalid UTF-8: a lone continuation, a truncated sequence, overlong */
	CHECK_STR(json("a\x80z"), "\"a\\u0080z\"");
	CHECK_STR(json("\xc3"), "\"\\u00c3\"");
	CHECK_STR(json("\xc0\xaf"), "\"\\u00c0\\u00af\"");
	CHECK_STR(json("\xed\xa0\x80"), "\"\\u00ed\\u00a0\\u0080\"");

	/* fmt_esc: what the access log writes for the same bytes */
	CHECK_STR(fmt_esc(b, sizeof(b), "/plain?a=b c"), "/plain?a=b c");
	CHECK_STR(fmt_esc(b, sizeof(b), "/\x1b[2J\x1b[31mRED\x07"), "/\\x1b[2J\\x1b[31mRED\\x07");
	CHECK_STR(fmt_esc(b, sizeof(b), "a\\b\x7f\x01\n"), "a\\\\b\\x7f\\x01\\x0a");
	CHECK_STR(fmt_esc(b, sizeof(b), "caf\xc3\xa9\xff"), "caf\\xc3\\xa9\\xff");
	CHECK_STR(fmt_esc(b, sizeof(b), ""), "");
	/* truncation never cuts an escape: 6 bytes hold "ab" and one escape */
	CHECK_STR(fmt_esc(b, 7, "ab\x1b\x1b"), "ab\\x1b");
	CHECK_STR(fmt_esc(b, 6, "ab\x1b"), "ab");
	CHECK_STR(fmt_esc(b, 3, "a\\"), "a");
	{
		char all[256], big[FMT_ESC_SIZE(256)];
		int ok = 1;

		for (int i = 1; i < 256; i++)
			all[i - 1] = (char)i;
		all[255] = '\0';
		fmt_esc(big, sizeof(big), all);
		CHECK_U64(strlen(big), 31 * 4 + 94 + 2 + 129 * 4);
		for (const unsigned char *p = (const unsigned char *)big; *p; p++)
			ok &= *p >= 0x20 && *p < 0x7f;
		CHECK(ok);
	}

	CHECK_STR(fmt_uri_prefix(b, sizeof(b), "/a/b/c", 2), "/a/b/...");
	CHECK_STR(fmt_uri_prefix(b, sizeof(b), "/a/b/c/d.html", 1), "/a/...");
	CHECK_STR(fmt_uri_prefix(b, sizeof(b), "/a/b/", 2), "/a/b/");
	CHECK_STR(fmt_uri_prefix(b, sizeof(b), "/a/b", 2), "/a/b");
	CHECK_STR(fmt_uri_prefix(b, sizeof(b), "/a/b/c", 0), "/a/b/c");
	CHECK_STR(fmt_uri_prefix(b, sizeof(b), "/", 1), "/");
	CHECK_STR(fmt_uri_prefix(b, sizeof(b), "*", 1), "*");
	CHECK_STR(fmt_uri_prefix(b, 6, "/abcdef/g", 1), "/abcd");

	CHECK_STR(fmt_usec(b, sizeof(b), 0), "0us");
	CHECK_STR(fmt_usec(b, sizeof(b), 734), "734us");
	CHECK_STR(fmt_usec(b, sizeof(b), 1234), "1.23ms");
	CHECK_STR(fmt_usec(b, sizeof(b), 12345), "12.3ms");
	CHECK_STR(fmt_usec(b, sizeof(b), 1500000), "1.50s");
	CHECK_STR(fmt_usec(b, sizeof(b), 125000000), "125s");

	CHECK_STR(fmt_si(b, sizeof(b), 0), "0.0");
	CHECK_STR(fmt_si(b, sizeof(b), 12.46), "12.5");
	CHECK_STR(fmt_si(b, sizeof(b), 999), "999");
	CHECK_STR(fmt_si(b, sizeof(b), 12345), "12.3K");
	CHECK_STR(fmt_si(b, sizeof(b), 4560000), "4.56M");
	CHECK_STR(fmt_si(b, sizeof(b), 999600), "1.00M");
}
