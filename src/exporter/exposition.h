/*
 * exposition.h - Prometheus' text exposition format (version 0.0.4), written
 * into a buffer that grows as needed: what `httpdtrace exporter` serves.
 */
#ifndef EXPOSITION_H
#define EXPOSITION_H

#include <stdbool.h>
#include <stddef.h>

struct expo {
	char *buf;        /* malloc'd; the caller frees it */
	size_t len, cap;
	bool failed;      /* out of memory: the text is incomplete */
	bool openmetrics; /* OpenMetrics 1.0 instead of the text format 0.0.4 */
};

/* An exemplar of a histogram bucket (OpenMetrics only): one request that
 * fell in it, by its W3C trace id when it had one, and its request id. */
struct expo_exemplar {
	unsigned long long request_id; /* 0: none */
	double value;
	const char *trace_id;          /* NULL or "": none */
};

void expo_printf(struct expo *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A label value as the format wants it: \\, \" and \n escaped; any other
 * control byte or byte >= 0x80 as the four characters \xNN (the backslash
 * escaped), so a label is always plain ASCII text. At most max bytes of s. */
void expo_label(struct expo *o, const char *s, size_t max);

/* The # HELP and # TYPE lines of a metric family (in OpenMetrics a
 * counter's family name has no _total; its samples keep it). */
void expo_head(struct expo *o, const char *name, const char *type, const char *help);

/* One histogram series from per-bucket (not cumulative) counts with their
 * upper bounds: name_bucket{labels,le="bound/div"} cumulative counts, the
 * +Inf bucket (count), name_sum (sum/div) and name_count. labels is
 * `a="x",b="y"` or "". exemplars: NULL, or n + 1 of them (the last for
 * +Inf), written after their bucket in OpenMetrics. */
void expo_hist(struct expo *o, const char *name, const char *labels,
	       const unsigned long long *bounds, const unsigned long long *buckets, int n,
	       double div, unsigned long long sum, unsigned long long count,
	       const struct expo_exemplar *exemplars);

/* The end of the exposition: "# EOF" in OpenMetrics, nothing otherwise. */
void expo_end(struct expo *o);

#endif /* EXPOSITION_H */
