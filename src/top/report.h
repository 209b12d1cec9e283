/*
 * report.h - what `httpdtrace top` prints: the text lines the full
 * screen and -b share (each into a buffer, for the screen to place), the -b
 * text report and the -j JSON object. No BPF, no terminal: tests/unit
 * reaches it. Client strings are escaped for their medium (fmt_esc on text
 * lines, fmt_json_str in JSON).
 */
#ifndef TOP_REPORT_H
#define TOP_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "table.h"
#include "view.h"

#define TOP_LINE_LEN 1024

/* One screen's or report's moment, besides the table and the view. */
struct top_frame {
	unsigned long long now_ns;     /* CLOCK_MONOTONIC */
	struct top_window windows[2];  /* since start; the last -T seconds or -H requests */
	unsigned long long drops;      /* events lost to a full ring buffer (-H) */
	unsigned long long interval_ms; /* the refresh interval (-d), for the title */
};

/* Column heads of top_report_window() and top_report_flight() lines. */
extern const char top_report_window_head[];
extern const char top_report_flight_head[];

/* "httpdtrace top - up H:MM:SS, every 2.0s, by uri, sort requests[, filter
 * RE][ [paused]]". */
void top_report_title(char *b, size_t len, const struct top_table *t, const struct top_view *v,
		      const struct top_frame *f, bool paused);

/* "requests N: 1xx N, 2xx N, 3xx N, 4xx N, 5xx N, other N; in flight N". */
void top_report_status(char *b, size_t len, const struct top_table *t);

/* A window's requests, rates and percentiles ("-" for none) under
 * top_report_window_head. */
void top_report_window(char *b, size_t len, const struct top_window *w);

/* "keys N/MAX, overflow N, in-flight overflow N, gone N, dropped N". */
void top_report_counters(char *b, size_t len, const struct top_table *t,
			 const struct top_frame *f);

/* The head of a table of rows grouped by g: REQS ... 5XX, then g in capitals. */
void top_report_row_head(char *b, size_t len, enum top_group g);

/* A row: requests since start, requests and bytes a second over the last
 * `seconds`, average and p95 latency, 5xx count, the key escaped. */
void top_report_row(char *b, size_t len, const struct top_row *r, double seconds);

/* A request in flight at now: age, pid, client, method, uri (escaped). */
void top_report_flight(char *b, size_t len, const struct top_request *q, unsigned long long now);

/* "drill-down: uri /x > client 1.2.3.4 > (Backspace: back)". */
void top_report_scope(char *b, size_t len, const struct top_view *v);

/* The -b report: title, status, windows, counters, the rows (up to -r) and,
 * when any, the requests in flight (up to -r), then a blank line. */
void top_report_text(FILE *out, const struct top_table *t, const struct top_view *v,
		     const struct top_frame *f);

/* The -j report: one JSON object on one line. */
void top_report_json(FILE *out, const struct top_table *t, const struct top_view *v,
		     const struct top_frame *f);

#endif /* TOP_REPORT_H */
