/*
 * exposition.c - Prometheus' text format (version 0.0.4) written into a
 * growing buffer (see exposition.h). Pure: tests/unit covers it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exposition.h"

void expo_printf(struct expo *o, const char *fmt, ...)
{
	va_list ap;
	size_t cap;
	char *b;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = true;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		/* too small (or none yet): double until it fits, then print again */
		for (cap = o->cap ? o->cap * 2 : 65536; cap - o->len <= (size_t)n; cap *= 2)
			;
		b = realloc(o->buf, cap);
		if (!b) {
			o->failed = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
}

void expo_label(struct expo *o, const char *s, size_t max)
{
	for (size_t i = 0; i < max && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\')
			expo_printf(o, "\\\\");
		else if (c == '"')
			expo_printf(o, "\\\"");
		else if (c == '\n')
			expo_printf(o, "\\n");
		else if (c < 0x20 || c >= 0x7f)
			expo_printf(o, "\\\\x%02X", c);
		else
			expo_printf(o, "%c", c);
	}
}

void expo_head(struct expo *o, const char *name, const char *type, const char *help)
{
	size_t len = strlen(name);

	if (o->openmetrics && !strcmp(type, "counter") && len > 6 &&
	    !strcmp(name + len - 6, "_total"))
		len -= 6;
	expo_printf(o, "# HELP %.*s %s\n# TYPE %.*s %s\n", (int)len, name, help, (int)len, name,
		    type);
}

static void exemplar(struct expo *o, const struct expo_exemplar *e)
{
	if (o->openmetrics && e && e->request_id) {
		expo_printf(o, " # {");
		if (e->trace_id && *e->trace_id) {
			expo_printf(o, "trace_id=\"");
			expo_label(o, e->trace_id, 32);
			expo_printf(o, "\",");
		}
		expo_printf(o, "request_id=\"%llu\"} %.9g", e->request_id, e->value);
	}
	expo_printf(o, "\n");
}

void expo_end(struct expo *o)
{
	if (o->openmetrics)
		expo_printf(o, "# EOF\n");
}

void expo_hist(struct expo *o, const char *name, const char *labels,
	       const unsigned long long *bounds, const unsigned long long *buckets, int n,
	       double div, unsigned long long sum, unsigned long long count,
	       const struct expo_exemplar *exemplars)
{
	const char *open = *labels ? "{" : "", *close = *labels ? "}" : "";
	const char *comma = *labels ? "," : "";
	unsigned long long cumulative = 0;

	for (int i = 0; i < n; i++) {
		cumulative += buckets[i];
		expo_printf(o, "%s_bucket{%s%sle=\"%.9g\"} %llu", name, labels, comma,
			    (double)bounds[i] / div, cumulative);
		exemplar(o, exemplars ? &exemplars[i] : NULL);
	}
	expo_printf(o, "%s_bucket{%s%sle=\"+Inf\"} %llu", name, labels, comma, count);
	exemplar(o, exemplars ? &exemplars[n] : NULL);
	expo_printf(o, "%s_sum%s%s%s %.9g\n", name, open, labels, close, (double)sum / div);
	expo_printf(o, "%s_count%s%s%s %llu\n", name, open, labels, close, count);
}
