/*
 * view.c - `httpdtrace top`'s rows (view.h): the table's entries
 * filtered on their uri, kept inside the drill-down levels, grouped by one
 * field and sorted; and the drill-down levels themselves.
 */
#define _GNU_SOURCE /* qsort_r */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/fmt.h"
#include "view.h"

const char *const top_group_names[TOP_GROUPS] = { "uri", "client", "vhost", "status", "method",
						   "handler" };
const char *const top_sort_names[TOP_SORTS] = { "requests", "rate", "bytes", "avg", "p95", "5xx",
						 "key" };

struct top_grouped {
	char key[TOP_KEY_LEN];
	const struct top_entry *entry;
};

int top_view_alloc(struct top_view *v, unsigned int max_keys)
{
	v->rows = calloc(max_keys, sizeof(*v->rows));
	v->status_rows = calloc(max_keys, sizeof(*v->status_rows));
	return v->rows && v->status_rows ? 0 : -ENOMEM;
}

void top_view_free(struct top_view *v)
{
	free(v->rows);
	free(v->status_rows);
	free(v->grouped);
	filter_uri_free(&v->filter);
	v->rows = v->status_rows = NULL;
	v->grouped = NULL;
	v->grouped_room = 0;
}

void top_view_key(const struct top_view *v, const struct top_key *k, enum top_group g, char *buf,
		  size_t len)
{
	switch (g) {
	case TOP_GROUP_URI:
		fmt_uri_prefix(buf, len, k->uri, v->segments);
		break;
	case TOP_GROUP_CLIENT:
		snprintf(buf, len, "%s", fmt_or_dash(k->client));
		break;
	case TOP_GROUP_VHOST:
		snprintf(buf, len, "%s", fmt_or_dash(k->vhost));
		break;
	case TOP_GROUP_STATUS:
		snprintf(buf, len, "%d", k->status);
		break;
	case TOP_GROUP_METHOD:
		snprintf(buf, len, "%s", fmt_or_dash(k->method));
		break;
	default:
		snprintf(buf, len, "%s", fmt_or_dash(k->handler));
	}
}

bool top_view_shows(const struct top_view *v, const struct top_entry *e)
{
	char value[TOP_KEY_LEN];

	if (!filter_uri_match(&v->filter, e->key.uri))
		return false;
	for (int i = 0; i < v->nscopes; i++) {
		top_view_key(v, &e->key, v->scopes[i].field, value, sizeof(value));
		if (strcmp(value, v->scopes[i].value))
			return false;
	}
	return true;
}

unsigned long long top_view_row_avg(const struct top_row *r)
{
	return r->requests ? r->lat.sum / r->requests : 0;
}

size_t top_view_limit(const struct top_view *v, size_t n)
{
	return v->limit && v->limit < n ? v->limit : n;
}

/* ---------------------------------------------------------------------------
 * Grouping and sorting
 * ------------------------------------------------------------------------- */
static int grouped_cmp(const void *a, const void *b)
{
	return strcmp(((const struct top_grouped *)a)->key, ((const struct top_grouped *)b)->key);
}

/* qsort_r's comparison of two rows under the enum top_sort at *sort. */
static int row_cmp(const void *a, const void *b, void *sort)
{
	const struct top_row *x = a, *y = b;
	unsigned long long vx, vy;

	switch (*(const enum top_sort *)sort) {
	case TOP_SORT_RATE:
		vx = x->interval_requests, vy = y->interval_requests;
		break;
	case TOP_SORT_BYTES:
		vx = x->interval_bytes_out, vy = y->interval_bytes_out;
		break;
	case TOP_SORT_AVG:
		vx = top_view_row_avg(x), vy = top_view_row_avg(y);
		break;
	case TOP_SORT_P95:
		vx = hist_percentile(&x->lat, 95), vy = hist_percentile(&y->lat, 95);
		break;
	case TOP_SORT_5XX:
		vx = x->status_5xx, vy = y->status_5xx;
		break;
	case TOP_SORT_KEY:
		return strcmp(x->key, y->key);
	default:
		vx = x->requests, vy = y->requests;
	}
	if (vx != vy)
		return vx > vy ? -1 : 1;
	if (x->requests != y->requests) /* ties: the busier first, then by key */
		return x->requests > y->requests ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* Room in v->grouped for every entry t holds. Returns false when out of
 * memory. */
static bool reserve_grouped(struct top_view *v, const struct top_table *t)
{
	if (v->grouped_room >= t->nentries)
		return true;
	free(v->grouped);
	v->grouped_room = t->nslots;
	v->grouped = calloc(v->grouped_room, sizeof(*v->grouped));
	if (!v->grouped)
		v->grouped_room = 0;
	return v->grouped != NULL;
}

size_t top_view_group(struct top_view *v, const struct top_table *t, enum top_group g,
		      struct top_row *rows)
{
	size_t n = 0, nrows = 0;

	if (!reserve_grouped(v, t))
		return 0;
	/* each shown entry with its key, then sorted by key: one row per run */
	for (size_t i = 0; i < t->nslots; i++) {
		const struct top_entry *e = &t->entries[i];

		if (!e->used || !top_view_shows(v, e))
			continue;
		top_view_key(v, &e->key, g, v->grouped[n].key, sizeof(v->grouped[n].key));
		v->grouped[n++].entry = e;
	}
	qsort(v->grouped, n, sizeof(*v->grouped), grouped_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct top_entry *e = v->grouped[i].entry;
		struct top_row *r;

		if (!nrows || strcmp(rows[nrows - 1].key, v->grouped[i].key)) {
			r = &rows[nrows++];
			memset(r, 0, sizeof(*r));
			memcpy(r->key, v->grouped[i].key, sizeof(r->key));
		}
		r = &rows[nrows - 1];
		r->requests += e->stats.lat.count;
		r->interval_requests += e->stats.lat.count - e->prev_requests;
		r->bytes_out += e->stats.bytes_out;
		r->interval_bytes_out += e->stats.bytes_out - e->prev_bytes_out;
		if (e->key.status >= 500 && e->key.status <= 599)
			r->status_5xx += e->stats.lat.count;
		hist_merge(&r->lat, &e->stats.lat);
	}
	qsort_r(rows, nrows, sizeof(*rows), row_cmp, &v->sort);
	return nrows;
}

/* ---------------------------------------------------------------------------
 * The view: rows, filter, drill-down
 * ------------------------------------------------------------------------- */

/* Drilled into a uri and showing its clients: its statuses go below. */
static bool drilled_into_uri(const struct top_view *v)
{
	return v->nscopes && v->scopes[v->nscopes - 1].field == TOP_GROUP_URI &&
	       v->group == TOP_GROUP_CLIENT;
}

void top_view_build(struct top_view *v, const struct top_table *t)
{
	v->nrows = top_view_group(v, t, v->group, v->rows);
	v->nstatus_rows = drilled_into_uri(v) ? top_view_group(v, t, TOP_GROUP_STATUS,
							       v->status_rows) : 0;
}

int top_view_set_filter(struct top_view *v, const char *re, char *err, size_t errlen)
{
	struct filter_uri f = { 0 };
	char why[128];

	if (re[0] && filter_uri_regex(&f, re, why, sizeof(why))) {
		snprintf(err, errlen, "invalid regex '%s': %s", re, why);
		return -1;
	}
	filter_uri_free(&v->filter);
	v->filter = f;
	snprintf(v->filter_text, sizeof(v->filter_text), "%s", re);
	return 0;
}

int top_view_drill_down(struct top_view *v, int selected)
{
	struct top_scope *s;

	if (v->nscopes == TOP_MAX_SCOPES || selected >= (int)v->nrows)
		return -1;
	s = &v->scopes[v->nscopes++];
	s->field = v->group;
	memcpy(s->value, v->rows[selected].key, sizeof(s->value));
	s->selected_before = selected;
	v->group = s->field == TOP_GROUP_URI ? TOP_GROUP_CLIENT : TOP_GROUP_URI;
	return 0;
}

int top_view_drill_up(struct top_view *v)
{
	if (!v->nscopes)
		return -1;
	v->nscopes--;
	v->group = v->scopes[v->nscopes].field;
	return v->scopes[v->nscopes].selected_before;
}
