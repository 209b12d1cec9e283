/*
 * unit.h - a tiny test helper for httpdtrace's pure C helpers. Each
 * test_*.c file defines one `void test_NAME(void)` made of CHECK* lines;
 * unit.c runs them all and prints "unit: N passed, N failed" (exit 1 on any
 * failure). A failed check prints its file, line and the values.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <string.h>

extern int unit_passed, unit_failed;

#define CHECK(cond)                                                               \
	do {                                                                      \
		if (cond) {                                                       \
			unit_passed++;                                            \
		} else {                                                          \
			unit_failed++;                                            \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__,    \
				__LINE__, #cond);                                 \
		}                                                                 \
	} while (0)

#define CHECK_U64(got, want)                                                      \
	do {                                                                      \
		unsigned long long g_ = (got), w_ = (want);                       \
		if (g_ == w_) {                                                   \
			unit_passed++;                                            \
		} else {                                                          \
			unit_failed++;                                            \
			fprintf(stderr, "%s:%d: %s is %llu, want %llu\n", __FILE__, \
				__LINE__, #got, g_, w_);                          \
		}                                                                 \
	} while (0)

#define CHECK_STR(got, want)                                                      \
	do {                                                                      \
		const char *g_ = (got), *w_ = (want);                             \
		if (strcmp(g_, w_) == 0) {                                        \
			unit_passed++;                                            \
		} else {                                                          \
			unit_failed++;                                            \
			fprintf(stderr, "%s:%d: %s is \"%s\", want \"%s\"\n",      \
				__FILE__, __LINE__, #got, g_, w_);                \
		}                                                                 \
	} while (0)

void test_hist(void);
void test_traceparent(void);
void test_fmt(void);
void test_filter(void);
void test_options(void);
void test_exposition(void);
void test_top_table(void);
void test_top_view(void);
void test_top_report(void);
void test_pools_leak(void);

/* test_top_view.c's table of four keys and its view by uri (for the report
 * tests too). */
struct top_table;
struct top_view;
void top_fixture(struct top_table *t, struct top_view *v);

#endif /* UNIT_H */
