/*
 * view.h - what `httpdtrace top`'s table shows: the entries of a
 * struct top_table grouped by one field into rows, kept only if their uri
 * matches the filter and they lie inside every drill-down level, and sorted.
 * The screen and the -b/-j reports print the same rows. No BPF, no terminal:
 * tests/unit reaches it.
 */
#ifndef TOP_VIEW_H
#define TOP_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/filter.h"
#include "lib/hist.h"
#include "table.h"

#define TOP_KEY_LEN (STR_TOP_URI + 8) /* a row's key: a uri, cut or whole, a client... */
#define TOP_MAX_SCOPES 4              /* drill-down levels */
#define TOP_FILTER_LEN 128

enum top_group {
	TOP_GROUP_URI,
	TOP_GROUP_CLIENT,
	TOP_GROUP_VHOST,
	TOP_GROUP_STATUS,
	TOP_GROUP_METHOD,
	TOP_GROUP_HANDLER,
	TOP_GROUPS
};

enum top_sort {
	TOP_SORT_REQUESTS,
	TOP_SORT_RATE,
	TOP_SORT_BYTES,
	TOP_SORT_AVG,
	TOP_SORT_P95,
	TOP_SORT_5XX,
	TOP_SORT_KEY,
	TOP_SORTS
};

/* "uri" ... "handler" and "requests" ... "key": the -g and -o arguments, and
 * the names reports print. */
extern const char *const top_group_names[TOP_GROUPS];
extern const char *const top_sort_names[TOP_SORTS];

/* The entries whose grouped field reads `key`, summed. */
struct top_row {
	char key[TOP_KEY_LEN];
	unsigned long long requests, bytes_out;     /* since start */
	unsigned long long interval_requests;       /* since the read before */
	unsigned long long interval_bytes_out;
	unsigned long long status_5xx;              /* requests answered 500-599 */
	struct hist lat;
};

/* A drill-down level: only the entries whose `field` reads `value`. */
struct top_scope {
	enum top_group field;
	char value[TOP_KEY_LEN];
	int selected_before; /* the row selected when the level was entered */
};

/* An entry and its key under one grouping (top_view_group's work space). */
struct top_grouped;

struct top_view {
	enum top_group group;   /* -g, then the screen's g and drill-downs */
	enum top_sort sort;     /* -o, then the screen's sort keys */
	unsigned int segments;  /* -s: uris cut to their first N segments, 0: whole */
	unsigned int limit;     /* -r: rows and in-flight requests per report, 0: all */
	struct filter_uri filter;
	char filter_text[TOP_FILTER_LEN]; /* the regex, "": none */
	struct top_scope scopes[TOP_MAX_SCOPES];
	int nscopes;
	struct top_row *rows;         /* grouped by `group`, sorted */
	size_t nrows;
	struct top_row *status_rows;  /* drilled into a uri, by client: its statuses */
	size_t nstatus_rows;
	struct top_grouped *grouped;
	size_t grouped_room;
};

/* Room for the rows of a table of max_keys keys (v's other fields are left
 * as they are: zero them first, or set them). Returns 0 or -ENOMEM (free the
 * view either way). */
int top_view_alloc(struct top_view *v, unsigned int max_keys);

void top_view_free(struct top_view *v);

/* Entry key k's field g as a row key into buf: the uri cut to v->segments,
 * the status as a number, any other field as is, "-" when empty. */
void top_view_key(const struct top_view *v, const struct top_key *k, enum top_group g, char *buf,
		  size_t len);

/* True if entry e's uri matches the filter and e lies inside every
 * drill-down level. */
bool top_view_shows(const struct top_view *v, const struct top_entry *e);

/* The entries of t that v shows, grouped by g into rows (room for one per
 * entry) and sorted by v->sort: the larger value first, ties the busier
 * first, then by key; "key" sorts by key alone. Returns the row count. */
size_t top_view_group(struct top_view *v, const struct top_table *t, enum top_group g,
		      struct top_row *rows);

/* v->rows by v->group and, when the last drill-down level is a uri and the
 * rows are its clients, v->status_rows by status (else none). */
void top_view_build(struct top_view *v, const struct top_table *t);

/* Replace the uri filter with regex re ("" clears it). Returns 0, or -1 with
 * "invalid regex 're': why" in err (the filter stays as it was). */
int top_view_set_filter(struct top_view *v, const char *re, char *err, size_t errlen);

/* Drill into row `selected`: a new level keeps only its key's entries, and
 * the rows become the uri's clients (a uri was selected) or the value's
 * uris (anything else). Returns 0, or -1 when there is no such row or no
 * level left. */
int top_view_drill_down(struct top_view *v, int selected);

/* Leave the last level: the rows are grouped as they were before it.
 * Returns the row then selected, or -1 when there is no level. */
int top_view_drill_up(struct top_view *v);

/* The average latency of a row (µs), 0 without requests. */
unsigned long long top_view_row_avg(const struct top_row *r);

/* n cut to v->limit (-r) when there is one. */
size_t top_view_limit(const struct top_view *v, size_t n);

#endif /* TOP_VIEW_H */
