/*
 * top.c - `httpdtrace top`: a live apachetop with latency, percentiles and
 * the requests in flight. Full screen (ncurses) on a terminal; -b prints a
 * plain-text snapshot per interval, -j a JSON object per interval.
 *
 * Where the numbers come from (top.bpf.c counts, this file reads):
 *
 *   totals    since start: requests per status class, bytes, a log2
 *             latency histogram. Read once a second into a ring of
 *             snapshots: the "last N seconds" window (-T) is the latest
 *             totals minus the newest snapshot at least N seconds old, so
 *             its counts and histogram are exact to the second.
 *   events    only with -H N: one small record per finished request,
 *             drained every 50 ms into a ring of the last N; the "last N
 *             requests" window is a histogram of those.
 *   stats     per (uri, client, vhost, handler, method, status): bytes and
 *             a histogram. Read every -d seconds; rows group these keys by
 *             the shown field (with -s truncation, the regex filter and the
 *             drill-down scope applied here), rates are the growth since
 *             the previous read.
 *   inflight  request-start inserts, request-done deletes: the oldest
 *             entries are the requests in flight. An entry whose process
 *             has died (a killed child never fires request-done) is
 *             deleted when seen and counted as "gone".
 *
 * Percentiles are hist_percentile()'s: the upper edge of the log2 slot that
 * holds them, never above the largest latency seen (for the -T window, whose
 * exact max is unknown, the largest slot's upper edge).
 *
 * Collection never waits for the screen: the kernel counts on its own, and
 * the loop below wakes every TRACE_POLL_MS (in full screen, getch()'s
 * timeout is that sleep) to drain events and take the per-second snapshot;
 * `stats` and `inflight` are read only when a screen or report is due, and
 * a filter being typed, the help or a pause hold nothing else up.
 */
#include <argp.h>
#include <curses.h>
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <linux/types.h>
#include "filter.h"
#include "fmt.h"
#include "options.h"
#include "hist.h"
#include "httpdtrace.h"
#include "top.h"
#include "top.skel.h"
#include "trace.h"

#define NS_PER_S 1000000000ULL
#define KEY_LEN (STR_TOP_URI + 8)
#define MAX_SCOPES 4
#define LINE_LEN 1024

enum group { G_URI, G_CLIENT, G_VHOST, G_STATUS, G_METHOD, G_HANDLER, G_N };
static const char *const group_names[G_N] = { "uri", "client", "vhost", "status", "method",
					      "handler" };

enum sort { S_REQS, S_RATE, S_BYTES, S_AVG, S_P95, S_5XX, S_KEY, S_N };
static const char *const sort_names[S_N] = { "requests", "rate", "bytes", "avg", "p95", "5xx",
					     "key" };
static const char sort_keys[S_N] = { 'n', 'r', 'b', 'a', 'p', 'e', 'k' };

static struct env {
	unsigned int window_s;  /* -T */
	unsigned int window_n;  /* -H */
	unsigned int segments;  /* -s */
	unsigned int rows;      /* -r, 0: all (batch) or what fits (screen) */
	unsigned int max_keys;  /* -K */
	enum group group;
	enum sort sort;
	bool batch, json;
	const char *filter;     /* -f */
} env = { .window_s = 30, .max_keys = TOP_MAX_KEYS };

static struct trace_interval iv; /* -d / -n or [interval] [count] */

/* ---------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------- */
const char top_doc[] =
	"A live apachetop: requests, bytes, status classes and latency percentiles\n"
	"since start and over a recent window, a table by uri (or client, vhost,\n"
	"status, method, handler), and the requests in flight.\n"
	"\n"
	"USAGE: httpdtrace top [-b | -j] [-d SECONDS] [-n COUNT] [-T SECONDS | -H N]\n"
	"                      [-g GROUP] [-o SORT] [-s SEGMENTS] [-f REGEX] [-r ROWS]\n"
	"                      [-K KEYS] [-m PATH] [-p PID] [-v] [interval [count]]\n"
	"\n"
	"EXAMPLES:\n"
	"    httpdtrace top                 # full screen; h for the keys\n"
	"    httpdtrace top -s 2            # uris cut to 2 segments: /api/v1/...\n"
	"    httpdtrace top -g client -o p95   # clients, the slowest first\n"
	"    httpdtrace top -H 1000         # recent window: the last 1000 requests\n"
	"    httpdtrace top -b -n 3 -d 5    # 3 text snapshots, 5 s apart\n"
	"    httpdtrace top -b 5 3          # the same\n"
	"    httpdtrace top -j 10 | jq .rows[0]   # one JSON object per 10 s\n"
	"    httpdtrace top -f '^/api/'     # only uris matching a regex\n"
	"\n"
	"Keys: g group, n/r/b/a/p/e/k sort by requests, rate, bytes, avg, p95, 5xx,\n"
	"key; f filter; Enter drill down, Backspace back; i in-flight; space pause;\n"
	"h help; q quit. GROUP: uri client vhost status method handler. SORT:\n"
	"requests rate bytes avg p95 5xx key.";

static const struct argp_option opts[] = {
	{ "batch", 'b', NULL, 0, "Plain-text snapshots on stdout (not full screen)", 0 },
	{ "json", 'j', NULL, 0, "One JSON object per interval on stdout", 0 },
	{ "delay", 'd', "SECONDS", 0, "Refresh or report every SECONDS (default 2; 0.5, 500ms)", 0 },
	{ "iterations", 'n', "COUNT", 0, "Stop after COUNT screens or reports", 0 },
	{ "window", 'T', "SECONDS", 0, "Recent window: the last SECONDS (default 30)", 0 },
	{ "requests", 'H', "N", 0, "Recent window: the last N requests instead", 0 },
	{ "group", 'g', "GROUP", 0, "Rows by uri (default), client, vhost, status, method, "
				    "handler", 0 },
	{ "sort", 'o', "SORT", 0, "Sort by requests (default), rate, bytes, avg, p95, 5xx, key", 0 },
	{ "segments", 's', "N", 0, "Cut uris to their first N path segments", 0 },
	{ "filter", 'f', "REGEX", 0, "Only uris matching REGEX (POSIX extended)", 0 },
	{ "rows", 'r', "ROWS", 0, "At most ROWS rows (and in-flight requests) per report", 0 },
	{ "keys", 'K', "KEYS", 0, "Size of the kernel's table (default 8192 keys)", 0 },
	{ 0 },
};

static int name_index(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], s))
			return i;
	return -1;
}

static unsigned int parse_uint(struct argp_state *state, const char *what, const char *arg,
			       unsigned long long lo, unsigned long long hi)
{
	unsigned long long v;

	if (opt_count_parse(arg, &v) || v < lo || v > hi)
		argp_error(state, "invalid %s '%s': give %llu to %llu", what, arg, lo, hi);
	return (unsigned int)v;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	int i;

	switch (key) {
	case 'b':
		env.batch = true;
		break;
	case 'j':
		env.json = true;
		break;
	case 'd':
		if (opt_interval_parse(arg, &iv.ms))
			argp_error(state, "invalid delay '%s': give seconds (2, 0.5) or 500ms", arg);
		break;
	case 'n':
		if (opt_count_parse(arg, &iv.count))
			argp_error(state, "invalid count '%s': give 1 or more", arg);
		break;
	case 'T':
		env.window_s = parse_uint(state, "window", arg, 1, 3600);
		break;
	case 'H':
		env.window_n = parse_uint(state, "request count", arg, 1, 1000000);
		break;
	case 'g':
		if ((i = name_index(group_names, G_N, arg)) < 0)
			argp_error(state, "invalid group '%s': give uri, client, vhost, status, "
				   "method or handler", arg);
		env.group = (enum group)i;
		break;
	case 'o':
		if ((i = name_index(sort_names, S_N, arg)) < 0)
			argp_error(state, "invalid sort '%s': give requests, rate, bytes, avg, "
				   "p95, 5xx or key", arg);
		env.sort = (enum sort)i;
		break;
	case 's':
		env.segments = parse_uint(state, "segment count", arg, 1, 64);
		break;
	case 'f':
		env.filter = arg;
		break;
	case 'r':
		env.rows = parse_uint(state, "row count", arg, 1, 1000000);
		break;
	case 'K':
		env.max_keys = parse_uint(state, "key count", arg, 16, 1 << 20);
		break;
	case ARGP_KEY_ARG:
		trace_interval_arg(&iv, state, arg);
		break;
	case ARGP_KEY_END:
		if (env.batch && env.json)
			argp_error(state, "-b and -j are two outputs: give one");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Collection: the kernel's maps as last read
 * ------------------------------------------------------------------------- */

/* One entry of `stats` (never deleted there, so keys only appear). */
struct tuple {
	struct top_key key;
	struct top_stats cur;
	unsigned long long prev_count, prev_bytes; /* at the read before */
	bool used;
};

struct snap {
	unsigned long long ts, count, bytes;
	unsigned long long slots[HIST_SLOTS];
};

struct flight {
	__u64 id;
	struct top_flight f;
};

static struct collect {
	int totals_fd, stats_fd, inflight_fd;
	struct top_totals tot;       /* at the last read */
	struct tuple *tuples;        /* open addressing, ntab slots */
	size_t ntab, ntuples;
	unsigned long long read_ns, prev_read_ns;
	struct snap *snaps;          /* ring, one per second */
	size_t nsnaps, snap_next;
	unsigned long long next_snap_ns;
	struct top_event *recent;    /* ring of the last env.window_n (-H) */
	size_t nrecent, recent_next;
	struct flight *flights;      /* oldest first */
	size_t nflights;
	unsigned long long gone;     /* in-flight entries of dead processes */
	unsigned long long start_ns;
} col;

static int read_totals(void)
{
	__u32 zero = 0;
	struct top_totals v;

	if (bpf_map_lookup_elem(col.totals_fd, &zero, &v))
		return -errno;
	col.tot = v;
	return 0;
}

/* FNV-1a over the whole key (its padding is zero, see top.h). */
static size_t key_hash(const struct top_key *k)
{
	const unsigned char *p = (const unsigned char *)k;
	unsigned long long h = 1469598103934665603ULL;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return (size_t)h;
}

static void tuple_update(const struct top_key *k, const struct top_stats *v)
{
	size_t i = key_hash(k) & (col.ntab - 1);
	struct tuple *t;

	while (col.tuples[i].used && memcmp(&col.tuples[i].key, k, sizeof(*k)))
		i = (i + 1) & (col.ntab - 1);
	t = &col.tuples[i];
	if (!t->used) {
		t->used = true;
		t->key = *k;
		col.ntuples++;
	}
	t->prev_count = t->cur.lat.count;
	t->prev_bytes = t->cur.bytes_out;
	t->cur = *v;
	/* slots and count are bumped separately: trust the slots */
	t->cur.lat.count = 0;
	for (int s = 0; s < HIST_SLOTS; s++)
		t->cur.lat.count += t->cur.lat.slots[s];
}

static void read_stats(void)
{
	struct top_key k, next;
	struct top_stats v;
	void *prev = NULL;

	/* the table has twice the map's room, so it never fills */
	while (!bpf_map_get_next_key(col.stats_fd, prev, &next)) {
		if (!bpf_map_lookup_elem(col.stats_fd, &next, &v) && col.ntuples < col.ntab / 2)
			tuple_update(&next, &v);
		k = next;
		prev = &k;
	}
}

static int flight_cmp(const void *a, const void *b)
{
	const struct flight *x = a, *y = b;

	return x->f.start_ns < y->f.start_ns ? -1 : x->f.start_ns > y->f.start_ns;
}

/* Read `inflight`, oldest first; drop (and count) entries whose process is
 * gone: their request-done will never come. */
static void read_inflight(void)
{
	__u64 k, next, *prev = NULL;
	struct top_flight f;

	col.nflights = 0;
	while (!bpf_map_get_next_key(col.inflight_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(col.inflight_fd, &next, &f) ||
		    col.nflights >= TOP_MAX_INFLIGHT)
			continue;
		if (kill((pid_t)f.pid, 0) && errno == ESRCH) {
			if (!bpf_map_delete_elem(col.inflight_fd, &next))
				col.gone++;
			continue;
		}
		col.flights[col.nflights].id = next;
		col.flights[col.nflights++].f = f;
	}
	qsort(col.flights, col.nflights, sizeof(*col.flights), flight_cmp);
}

static void collect(unsigned long long now)
{
	read_totals();
	read_stats();
	read_inflight();
	col.prev_read_ns = col.read_ns;
	col.read_ns = now;
}

/* Once a second: the totals, for the -T window. */
static void snap_tick(unsigned long long now)
{
	struct snap *s;

	if (now < col.next_snap_ns)
		return;
	col.next_snap_ns += NS_PER_S;
	if (col.next_snap_ns <= now) /* a long stall: realign */
		col.next_snap_ns = now + NS_PER_S;
	if (read_totals())
		return;
	s = &col.snaps[col.snap_next++ % col.nsnaps];
	s->ts = now;
	s->count = col.tot.lat.count;
	s->bytes = col.tot.bytes_out;
	memcpy(s->slots, col.tot.lat.slots, sizeof(s->slots));
}

static int recent_event(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size < sizeof(struct top_event))
		return 0;
	memcpy(&col.recent[col.recent_next++ % env.window_n], data, sizeof(struct top_event));
	if (col.nrecent < env.window_n)
		col.nrecent++;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Windows: since start, and the recent one (-T seconds or -H requests)
 * ------------------------------------------------------------------------- */
struct window {
	char name[24];
	unsigned long long requests, bytes;
	double seconds;
	struct hist lat;
};

static void window_all(struct window *w, unsigned long long now)
{
	snprintf(w->name, sizeof(w->name), "since start");
	w->lat = col.tot.lat;
	w->lat.count = 0;
	for (int s = 0; s < HIST_SLOTS; s++)
		w->lat.count += w->lat.slots[s];
	w->requests = w->lat.count;
	w->bytes = col.tot.bytes_out;
	w->seconds = (double)(now - col.start_ns) / NS_PER_S;
}

/* Totals minus the newest snapshot taken at least window_s ago (none yet:
 * everything since start). */
static void window_time(struct window *w, unsigned long long now)
{
	const struct snap *base = NULL;
	unsigned long long base_ts = col.start_ns, base_bytes = 0;
	int top = -1;

	window_all(w, now);
	snprintf(w->name, sizeof(w->name), "last %us", env.window_s);
	for (size_t i = 0; i < col.nsnaps && i < col.snap_next; i++) {
		const struct snap *s = &col.snaps[i];

		if (s->ts + env.window_s * NS_PER_S <= now && (!base || s->ts > base->ts))
			base = s;
	}
	if (base) {
		base_ts = base->ts;
		base_bytes = base->bytes;
		w->lat.count = w->lat.sum = 0;
		for (int s = 0; s < HIST_SLOTS; s++) {
			w->lat.slots[s] -= base->slots[s] < w->lat.slots[s] ? base->slots[s] :
									      w->lat.slots[s];
			w->lat.count += w->lat.slots[s];
			if (w->lat.slots[s])
				top = s;
		}
		/* the window's max is only known to its slot */
		if (top >= 0 && hist_slot_high((unsigned int)top) < w->lat.max)
			w->lat.max = hist_slot_high((unsigned int)top);
		w->lat.sum = 0; /* unknown; avg is not shown for windows */
	}
	w->requests = w->lat.count;
	w->bytes = w->bytes > base_bytes ? w->bytes - base_bytes : 0;
	w->seconds = (double)(now - base_ts) / NS_PER_S;
}

static void window_requests(struct window *w, unsigned long long now)
{
	unsigned long long oldest = now;

	memset(w, 0, sizeof(*w));
	snprintf(w->name, sizeof(w->name), "last %u req", env.window_n);
	for (size_t i = 0; i < col.nrecent; i++) {
		const struct top_event *e = &col.recent[i];

		hist_add(&w->lat, e->latency_us);
		w->bytes += e->bytes_out;
		if (e->ts_ns < oldest)
			oldest = e->ts_ns;
	}
	w->requests = col.nrecent;
	w->seconds = (double)(now - (col.nrecent ? oldest : col.start_ns)) / NS_PER_S;
}

static void windows(struct window w[2], unsigned long long now)
{
	window_all(&w[0], now);
	if (env.window_n)
		window_requests(&w[1], now);
	else
		window_time(&w[1], now);
}

/* ---------------------------------------------------------------------------
 * Rows: tuples grouped by one field, filtered, scoped, sorted
 * ------------------------------------------------------------------------- */
struct row {
	char key[KEY_LEN];
	unsigned long long requests, delta, bytes, delta_bytes, s5xx;
	struct hist lat;
};

/* A drill-down level: only tuples whose `field` is `value`. */
struct scope {
	enum group field;
	char value[KEY_LEN];
	enum group group_before;
	int sel_before;
};

static struct view {
	struct scope scopes[MAX_SCOPES];
	int nscopes;
	struct filter_uri filter;
	char filter_text[128];
	struct row *rows;
	size_t nrows;
	struct row *rows2; /* a uri's drill-down: its statuses below its clients */
	size_t nrows2;
} view;

static const char *or_dash(const char *s)
{
	return s[0] ? s : "-";
}

static void group_key(const struct top_key *k, enum group g, char *buf, size_t len)
{
	switch (g) {
	case G_URI:
		fmt_uri_prefix(buf, len, k->uri, env.segments);
		break;
	case G_CLIENT:
		snprintf(buf, len, "%s", or_dash(k->client));
		break;
	case G_VHOST:
		snprintf(buf, len, "%s", or_dash(k->vhost));
		break;
	case G_STATUS:
		snprintf(buf, len, "%d", k->status);
		break;
	case G_METHOD:
		snprintf(buf, len, "%s", or_dash(k->method));
		break;
	default:
		snprintf(buf, len, "%s", or_dash(k->handler));
	}
}

static bool tuple_shown(const struct tuple *t)
{
	char v[KEY_LEN];

	if (!filter_uri_match(&view.filter, t->key.uri))
		return false;
	for (int i = 0; i < view.nscopes; i++) {
		group_key(&t->key, view.scopes[i].field, v, sizeof(v));
		if (strcmp(v, view.scopes[i].value))
			return false;
	}
	return true;
}

struct keyed {
	char key[KEY_LEN];
	const struct tuple *t;
};

static int keyed_cmp(const void *a, const void *b)
{
	return strcmp(((const struct keyed *)a)->key, ((const struct keyed *)b)->key);
}

static unsigned long long row_avg(const struct row *r)
{
	return r->requests ? r->lat.sum / r->requests : 0;
}

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	unsigned long long vx, vy;

	switch (env.sort) {
	case S_RATE:
		vx = x->delta, vy = y->delta;
		break;
	case S_BYTES:
		vx = x->delta_bytes, vy = y->delta_bytes;
		break;
	case S_AVG:
		vx = row_avg(x), vy = row_avg(y);
		break;
	case S_P95:
		vx = hist_percentile(&x->lat, 95), vy = hist_percentile(&y->lat, 95);
		break;
	case S_5XX:
		vx = x->s5xx, vy = y->s5xx;
		break;
	case S_KEY:
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

/* Group the shown tuples by g into rows (allocated by the caller, one per
 * tuple at most), sorted. Returns the row count. */
static size_t aggregate(enum group g, struct row *rows)
{
	static struct keyed *ks;
	static size_t ks_cap;
	size_t n = 0, nrows = 0;

	if (ks_cap < col.ntuples) {
		free(ks);
		ks_cap = col.ntab;
		ks = calloc(ks_cap, sizeof(*ks));
		if (!ks) {
			ks_cap = 0;
			return 0;
		}
	}
	for (size_t i = 0; i < col.ntab; i++) {
		const struct tuple *t = &col.tuples[i];

		if (!t->used || !tuple_shown(t))
			continue;
		group_key(&t->key, g, ks[n].key, sizeof(ks[n].key));
		ks[n++].t = t;
	}
	qsort(ks, n, sizeof(*ks), keyed_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct tuple *t = ks[i].t;
		struct row *r;

		if (!nrows || strcmp(rows[nrows - 1].key, ks[i].key)) {
			r = &rows[nrows++];
			memset(r, 0, sizeof(*r));
			memcpy(r->key, ks[i].key, sizeof(r->key));
		}
		r = &rows[nrows - 1];
		r->requests += t->cur.lat.count;
		r->delta += t->cur.lat.count - t->prev_count;
		r->bytes += t->cur.bytes_out;
		r->delta_bytes += t->cur.bytes_out - t->prev_bytes;
		if (t->key.status >= 500 && t->key.status <= 599)
			r->s5xx += t->cur.lat.count;
		hist_merge(&r->lat, &t->cur.lat);
	}
	qsort(rows, nrows, sizeof(*rows), row_cmp);
	return nrows;
}

/* The field the table shows: drilling into a uri shows its clients (and its
 * statuses below), into anything else its uris. */
static enum group shown_group(void)
{
	return env.group;
}

static bool uri_drill(void)
{
	return view.nscopes && view.scopes[view.nscopes - 1].field == G_URI &&
	       env.group == G_CLIENT;
}

static void build_rows(void)
{
	view.nrows = aggregate(shown_group(), view.rows);
	view.nrows2 = uri_drill() ? aggregate(G_STATUS, view.rows2) : 0;
}

/* ---------------------------------------------------------------------------
 * Text lines, shared by the screen and -b
 * ------------------------------------------------------------------------- */
static double interval_s(void)
{
	unsigned long long since = col.prev_read_ns ? col.prev_read_ns : col.start_ns;

	return col.read_ns > since ? (double)(col.read_ns - since) / NS_PER_S : 0;
}

static double per_s(unsigned long long v, double s)
{
	return s > 0 ? v / s : 0;
}

static void line_title(char *b, size_t len, unsigned long long now, bool paused)
{
	unsigned long long up = (now - col.start_ns) / NS_PER_S;
	char filt[160] = "";

	if (view.filter_text[0])
		snprintf(filt, sizeof(filt), ", filter %s", view.filter_text);
	snprintf(b, len, "httpdtrace top - up %llu:%02llu:%02llu, every %.1fs, by %s, sort %s%s%s",
		 up / 3600, up / 60 % 60, up % 60, iv.ms / 1e3, group_names[shown_group()],
		 sort_names[env.sort], filt, paused ? " [paused]" : "");
}

static void line_status(char *b, size_t len)
{
	const __u64 *c = col.tot.classes;

	snprintf(b, len,
		 "requests %llu: 1xx %llu, 2xx %llu, 3xx %llu, 4xx %llu, 5xx %llu, other %llu; "
		 "in flight %zu",
		 (unsigned long long)col.tot.lat.count, (unsigned long long)c[1],
		 (unsigned long long)c[2], (unsigned long long)c[3], (unsigned long long)c[4],
		 (unsigned long long)c[5], (unsigned long long)c[0], col.nflights);
}

static const char window_head[] = "WINDOW           REQS    REQ/S  BYTES/S      P50      P95      P99";

static void line_window(char *b, size_t len, const struct window *w)
{
	char rate[16], bytes[16], p[3][16];

	fmt_usec(p[0], sizeof(p[0]), hist_percentile(&w->lat, 50));
	fmt_usec(p[1], sizeof(p[1]), hist_percentile(&w->lat, 95));
	fmt_usec(p[2], sizeof(p[2]), hist_percentile(&w->lat, 99));
	snprintf(b, len, "%-14s %6llu %8s %8s %8s %8s %8s", w->name, w->requests,
		 fmt_si(rate, sizeof(rate), per_s(w->requests, w->seconds)),
		 fmt_si(bytes, sizeof(bytes), per_s(w->bytes, w->seconds)), w->lat.count ? p[0] : "-",
		 w->lat.count ? p[1] : "-", w->lat.count ? p[2] : "-");
}

static void line_counters(char *b, size_t len, unsigned long long drops)
{
	snprintf(b, len, "keys %zu/%u, overflow %llu, in-flight overflow %llu, gone %llu, "
		 "dropped %llu", col.ntuples, env.max_keys, (unsigned long long)col.tot.overflow,
		 (unsigned long long)col.tot.inflight_overflow, col.gone, drops);
}

static void line_row_head(char *b, size_t len, enum group g)
{
	char name[16];

	snprintf(name, sizeof(name), "%s", group_names[g]);
	for (char *p = name; *p; p++)
		*p = (char)(*p - 'a' + 'A');
	snprintf(b, len, "%8s %7s %7s %7s %7s %5s %s", "REQS", "REQ/S", "BYTES/S", "AVG", "P95",
		 "5XX", name);
}

static void line_row(char *b, size_t len, const struct row *r)
{
	char rate[16], bytes[16], avg[16], p95[16], key[FMT_ESC_SIZE(KEY_LEN)];
	double s = interval_s();

	fmt_esc(key, sizeof(key), r->key); /* a client's bytes must not drive the terminal */
	snprintf(b, len, "%8llu %7s %7s %7s %7s %5llu %s", r->requests,
		 fmt_si(rate, sizeof(rate), per_s(r->delta, s)),
		 fmt_si(bytes, sizeof(bytes), per_s(r->delta_bytes, s)),
		 fmt_usec(avg, sizeof(avg), row_avg(r)),
		 fmt_usec(p95, sizeof(p95), hist_percentile(&r->lat, 95)), r->s5xx, key);
}

static const char flight_head[] = "     AGE     PID CLIENT                          METHOD   URI";

static void line_flight(char *b, size_t len, const struct flight *f, unsigned long long now)
{
	char age[16], uri[FMT_ESC_SIZE(STR_TOP_URI)], client[FMT_ESC_SIZE(STR_IP)];
	char method[FMT_ESC_SIZE(STR_METHOD)];
	unsigned long long ns = now > f->f.start_ns ? now - f->f.start_ns : 0;

	fmt_esc(uri, sizeof(uri), f->f.uri);
	fmt_esc(client, sizeof(client), or_dash(f->f.client));
	fmt_esc(method, sizeof(method), or_dash(f->f.method));
	snprintf(b, len, "%8s %7u %-31s %-8s %s", fmt_usec(age, sizeof(age), ns / 1000), f->f.pid,
		 client, method, uri);
}

static void line_scope(char *b, size_t len)
{
	char value[FMT_ESC_SIZE(KEY_LEN)];
	size_t n = (size_t)snprintf(b, len, "drill-down:");

	for (int i = 0; i < view.nscopes && n < len; i++)
		n += (size_t)snprintf(b + n, len - n, " %s %s >", group_names[view.scopes[i].field],
				      fmt_esc(value, sizeof(value), view.scopes[i].value));
	if (n < len)
		snprintf(b + n, len - n, " (Backspace: back)");
}

/* ---------------------------------------------------------------------------
 * -b and -j reports
 * ------------------------------------------------------------------------- */
static size_t limit(size_t n)
{
	return env.rows && env.rows < n ? env.rows : n;
}

static void report_text(unsigned long long now, const struct window w[2],
			unsigned long long drops)
{
	char b[LINE_LEN];

	line_title(b, sizeof(b), now, false);
	printf("%s\n", b);
	line_status(b, sizeof(b));
	printf("%s\n", b);
	printf("%s\n", window_head);
	for (int i = 0; i < 2; i++) {
		line_window(b, sizeof(b), &w[i]);
		printf("%s\n", b);
	}
	line_counters(b, sizeof(b), drops);
	printf("%s\n\n", b);
	line_row_head(b, sizeof(b), shown_group());
	printf("%s\n", b);
	for (size_t i = 0; i < limit(view.nrows); i++) {
		line_row(b, sizeof(b), &view.rows[i]);
		printf("%s\n", b);
	}
	if (col.nflights) {
		printf("\nIN FLIGHT\n%s\n", flight_head);
		for (size_t i = 0; i < limit(col.nflights); i++) {
			line_flight(b, sizeof(b), &col.flights[i], now);
			printf("%s\n", b);
		}
	}
	printf("\n");
}

static void json_window(const struct window *w)
{
	printf("{\"name\":");
	fmt_json_str(stdout, w->name);
	printf(",\"requests\":%llu,\"bytes_out\":%llu,\"seconds\":%.3f,\"p50_us\":%llu,"
	       "\"p95_us\":%llu,\"p99_us\":%llu,\"max_us\":%llu}",
	       w->requests, w->bytes, w->seconds, hist_percentile(&w->lat, 50),
	       hist_percentile(&w->lat, 95), hist_percentile(&w->lat, 99),
	       w->lat.count ? w->lat.max : 0);
}

static void report_json(unsigned long long now, const struct window w[2],
			unsigned long long drops)
{
	const __u64 *c = col.tot.classes;
	double s = interval_s();

	printf("{\"type\":\"top\",\"time\":%.3f,\"interval\":%.3f,\"requests\":%llu,"
	       "\"bytes_out\":%llu,\"bytes_in\":%llu,\"status\":{\"1xx\":%llu,\"2xx\":%llu,"
	       "\"3xx\":%llu,\"4xx\":%llu,\"5xx\":%llu,\"other\":%llu},\"windows\":[",
	       (double)(now - col.start_ns) / NS_PER_S, s, (unsigned long long)col.tot.lat.count,
	       (unsigned long long)col.tot.bytes_out, (unsigned long long)col.tot.bytes_in,
	       (unsigned long long)c[1], (unsigned long long)c[2], (unsigned long long)c[3],
	       (unsigned long long)c[4], (unsigned long long)c[5], (unsigned long long)c[0]);
	json_window(&w[0]);
	printf(",");
	json_window(&w[1]);
	printf("],\"keys\":%zu,\"max_keys\":%u,\"overflow\":%llu,\"inflight_overflow\":%llu,"
	       "\"gone\":%llu,\"dropped\":%llu,\"group\":\"%s\",\"sort\":\"%s\",\"filter\":",
	       col.ntuples, env.max_keys, (unsigned long long)col.tot.overflow,
	       (unsigned long long)col.tot.inflight_overflow, col.gone, drops,
	       group_names[shown_group()], sort_names[env.sort]);
	if (view.filter_text[0])
		fmt_json_str(stdout, view.filter_text);
	else
		printf("null");
	printf(",\"rows\":[");
	for (size_t i = 0; i < limit(view.nrows); i++) {
		const struct row *r = &view.rows[i];

		printf("%s{\"key\":", i ? "," : "");
		fmt_json_str(stdout, r->key);
		printf(",\"requests\":%llu,\"req_s\":%.3f,\"bytes_out\":%llu,\"bytes_s\":%.3f,"
		       "\"avg_us\":%llu,\"p95_us\":%llu,\"5xx\":%llu}",
		       r->requests, per_s(r->delta, s), r->bytes, per_s(r->delta_bytes, s),
		       row_avg(r), hist_percentile(&r->lat, 95), r->s5xx);
	}
	printf("],\"inflight\":[");
	for (size_t i = 0; i < limit(col.nflights); i++) {
		const struct flight *f = &col.flights[i];

		printf("%s{\"id\":%llu,\"age_us\":%llu,\"pid\":%u,\"tid\":%u,\"conn_id\":%llu,"
		       "\"client\":", i ? "," : "", (unsigned long long)f->id,
		       now > f->f.start_ns ? (now - f->f.start_ns) / 1000 : 0, f->f.pid, f->f.tid,
		       (unsigned long long)f->f.conn_id);
		fmt_json_str(stdout, f->f.client);
		printf(",\"method\":");
		fmt_json_str(stdout, f->f.method);
		printf(",\"uri\":");
		fmt_json_str(stdout, f->f.uri);
		printf("}");
	}
	printf("]}\n");
}

/* ---------------------------------------------------------------------------
 * Full screen
 * ------------------------------------------------------------------------- */
static struct screen {
	bool on, paused, inflight, help, prompt, quit;
	int sel, first;      /* selected row, first row shown */
	char input[128];     /* the filter being typed */
	char msg[160];       /* one-line message (bad regex...) */
} scr;

static const char *const help_text[] = {
	"httpdtrace top - keys",
	"",
	"  g          group rows by the next field: uri client vhost status method handler",
	"  n r b a p e k   sort by requests, req/s, bytes/s, average, p95, 5xx, key",
	"  f          filter: a regex on the uri (empty clears it)",
	"  Up Down PgUp PgDn   select a row",
	"  Enter      drill down: a uri's clients and statuses, a client's uris...",
	"  Backspace  back up from a drill-down (also Left)",
	"  i          requests in flight, oldest first (again: back to the table)",
	"  space      pause the screen (counting goes on)",
	"  h ?        this help",
	"  q          quit",
	"",
	"Counts are since start; REQ/S and BYTES/S over the last refresh; AVG and P95",
	"since start. The second window is the last -T seconds or -H requests.",
	"Percentiles are log2 estimates: the upper edge of their slot.",
	"",
	"Any key returns.",
};

static void screen_open(void)
{
	setlocale(LC_ALL, "");
	initscr();
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	timeout(TRACE_POLL_MS); /* getch() is the loop's sleep */
	scr.on = true;
}

static void screen_close(void)
{
	if (!scr.on)
		return;
	endwin();
	scr.on = false;
}

static void put(int y, const char *s, int attr)
{
	if (y >= LINES)
		return;
	attron(attr);
	mvaddnstr(y, 0, s, COLS);
	if (attr & A_REVERSE) /* highlight the whole line */
		for (int x = (int)strlen(s); x < COLS; x++)
			mvaddch(y, x, ' ');
	attroff(attr);
}

static void draw_rows(int y, int bottom, const struct row *rows, size_t n, bool selectable)
{
	char b[LINE_LEN];

	if (selectable) {
		if (scr.sel >= (int)n)
			scr.sel = n ? (int)n - 1 : 0;
		if (scr.sel < scr.first)
			scr.first = scr.sel;
		if (scr.sel >= scr.first + (bottom - y))
			scr.first = scr.sel - (bottom - y) + 1;
	}
	for (size_t i = selectable ? (size_t)scr.first : 0; i < n && y < bottom; i++, y++) {
		line_row(b, sizeof(b), &rows[i]);
		put(y, b, selectable && (int)i == scr.sel ? A_REVERSE : 0);
	}
}

static void draw(unsigned long long now, const struct window w[2], unsigned long long drops)
{
	char b[LINE_LEN];
	int y = 0, bottom = LINES - 1;

	erase();
	if (scr.help) {
		for (size_t i = 0; i < sizeof(help_text) / sizeof(help_text[0]); i++)
			put(y++, help_text[i], i ? 0 : A_BOLD);
		refresh();
		return;
	}
	line_title(b, sizeof(b), now, scr.paused);
	put(y++, b, A_BOLD);
	line_status(b, sizeof(b));
	put(y++, b, 0);
	put(y++, window_head, A_BOLD);
	line_window(b, sizeof(b), &w[0]);
	put(y++, b, 0);
	line_window(b, sizeof(b), &w[1]);
	put(y++, b, 0);
	line_counters(b, sizeof(b), drops);
	put(y++, b, 0);
	if (scr.inflight) {
		snprintf(b, sizeof(b), "IN FLIGHT: %zu, oldest first (i: back to the table)",
			 col.nflights);
		put(++y, b, A_BOLD);
		put(++y, flight_head, A_REVERSE);
		y++;
		for (size_t i = 0; i < col.nflights && y < bottom; i++, y++) {
			line_flight(b, sizeof(b), &col.flights[i], now);
			put(y, b, 0);
		}
	} else {
		if (view.nscopes) {
			line_scope(b, sizeof(b));
			put(y, b, A_BOLD);
		}
		y++;
		line_row_head(b, sizeof(b), shown_group());
		put(y++, b, A_REVERSE);
		if (view.nrows2) {
			int mid = y + (bottom - y) / 2;

			draw_rows(y, mid, view.rows, view.nrows, true);
			line_row_head(b, sizeof(b), G_STATUS);
			put(mid, b, A_REVERSE);
			draw_rows(mid + 1, bottom, view.rows2, view.nrows2, false);
		} else {
			draw_rows(y, bottom, view.rows, view.nrows, true);
		}
	}
	if (scr.prompt)
		snprintf(b, sizeof(b), "filter (regex on the uri, empty clears): %s", scr.input);
	else if (scr.msg[0])
		snprintf(b, sizeof(b), "%s", scr.msg);
	else
		snprintf(b, sizeof(b), "h help  q quit  g group  n/r/b/a/p/e/k sort  f filter  "
			 "Enter drill  i in flight  space pause");
	put(LINES - 1, b, scr.prompt ? A_BOLD : A_DIM);
	if (scr.prompt) {
		curs_set(1);
		move(LINES - 1, (int)strlen(b) < COLS ? (int)strlen(b) : COLS - 1);
	} else {
		curs_set(0);
	}
	refresh();
}

/* Replace the uri filter; "" clears it. Returns 0, or -1 (message in scr.msg). */
static int set_filter(const char *re)
{
	struct filter_uri f = { 0 };
	char err[128];

	if (re[0] && filter_uri_regex(&f, re, err, sizeof(err))) {
		snprintf(scr.msg, sizeof(scr.msg), "invalid regex '%s': %s", re, err);
		return -1;
	}
	filter_uri_free(&view.filter);
	view.filter = f;
	snprintf(view.filter_text, sizeof(view.filter_text), "%s", re);
	return 0;
}

static void drill_down(void)
{
	struct scope *s;

	if (view.nscopes == MAX_SCOPES || scr.sel >= (int)view.nrows)
		return;
	s = &view.scopes[view.nscopes++];
	s->field = env.group;
	memcpy(s->value, view.rows[scr.sel].key, sizeof(s->value));
	s->group_before = env.group;
	s->sel_before = scr.sel;
	env.group = s->field == G_URI ? G_CLIENT : G_URI;
	scr.sel = scr.first = 0;
}

static void drill_up(void)
{
	if (!view.nscopes)
		return;
	view.nscopes--;
	env.group = view.scopes[view.nscopes].group_before;
	scr.sel = view.scopes[view.nscopes].sel_before;
	scr.first = 0;
}

static void prompt_key(int ch)
{
	size_t n = strlen(scr.input);

	if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		scr.prompt = false;
		if (!set_filter(scr.input))
			scr.sel = scr.first = 0;
	} else if (ch == 27) { /* Esc */
		scr.prompt = false;
	} else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
		if (n)
			scr.input[n - 1] = 0;
	} else if (ch >= 0x20 && ch < 0x7f && n + 1 < sizeof(scr.input)) {
		scr.input[n] = (char)ch;
		scr.input[n + 1] = 0;
	}
}

/* One key. Returns true if the screen should be redrawn. */
static bool screen_key(int ch)
{
	const char *k;

	if (ch == KEY_RESIZE)
		return true;
	if (scr.prompt) {
		prompt_key(ch);
		return true;
	}
	scr.msg[0] = 0;
	if (scr.help) {
		scr.help = false;
		return true;
	}
	if (ch > 0 && ch < 0x80 && (k = memchr(sort_keys, ch, S_N))) {
		env.sort = (enum sort)(k - sort_keys);
		return true;
	}
	switch (ch) {
	case 'q':
	case 'Q':
		scr.quit = true;
		break;
	case 'h':
	case '?':
		scr.help = true;
		break;
	case ' ':
		scr.paused = !scr.paused;
		break;
	case 'i':
		scr.inflight = !scr.inflight;
		break;
	case 'g':
		env.group = (enum group)((env.group + 1) % G_N);
		scr.sel = scr.first = 0;
		break;
	case 'f':
		scr.prompt = true;
		snprintf(scr.input, sizeof(scr.input), "%s", view.filter_text);
		break;
	case KEY_UP:
		if (scr.sel > 0)
			scr.sel--;
		break;
	case KEY_DOWN:
		scr.sel++;
		break;
	case KEY_PPAGE:
		scr.sel = scr.sel > LINES / 2 ? scr.sel - LINES / 2 : 0;
		break;
	case KEY_NPAGE:
		scr.sel += LINES / 2;
		break;
	case KEY_HOME:
		scr.sel = 0;
		break;
	case '\n':
	case '\r':
	case KEY_ENTER:
		if (!scr.inflight)
			drill_down();
		break;
	case KEY_BACKSPACE:
	case KEY_LEFT:
	case 127:
	case 8:
		drill_up();
		break;
	default:
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------------------
 * Main
 * ------------------------------------------------------------------------- */
static int alloc_state(void)
{
	col.ntab = 1;
	while (col.ntab < 2 * (size_t)env.max_keys)
		col.ntab <<= 1;
	col.tuples = calloc(col.ntab, sizeof(*col.tuples));
	col.nsnaps = env.window_s + 2;
	col.snaps = calloc(col.nsnaps, sizeof(*col.snaps));
	col.flights = calloc(TOP_MAX_INFLIGHT, sizeof(*col.flights));
	view.rows = calloc(env.max_keys, sizeof(*view.rows));
	view.rows2 = calloc(env.max_keys, sizeof(*view.rows2));
	if (env.window_n)
		col.recent = calloc(env.window_n, sizeof(*col.recent));
	if (!col.tuples || !col.snaps || !col.flights || !view.rows || !view.rows2 ||
	    (env.window_n && !col.recent)) {
		trace_err("out of memory");
		return -ENOMEM;
	}
	return 0;
}

static void free_state(void)
{
	free(col.tuples);
	free(col.snaps);
	free(col.flights);
	free(col.recent);
	free(view.rows);
	free(view.rows2);
	filter_uri_free(&view.filter);
}

/* One report on stdout (-b, -j). Returns 0, or -EPIPE when the reader left. */
static int report(struct trace *t, unsigned long long now)
{
	struct window w[2];

	collect(now);
	build_rows();
	windows(w, now);
	if (env.json)
		report_json(now, w, trace_drops(t));
	else
		report_text(now, w, trace_drops(t));
	if (fflush(stdout) && errno == EPIPE) {
		trace_epipe = 1;
		return -EPIPE;
	}
	return 0;
}

static int run_batch(struct trace *t)
{
	unsigned long long next = col.start_ns + iv.ms * 1000000ULL, now;

	while (!trace_exiting) {
		if (t->rb)
			ring_buffer__consume(t->rb);
		now = trace_now_ns();
		snap_tick(now);
		if (now >= next) {
			if (report(t, now))
				return 0;
			if (iv.count && ++iv.reports >= iv.count)
				return 0;
			next += iv.ms * 1000000ULL;
			if (next <= now)
				next = now + iv.ms * 1000000ULL;
		}
		trace_sleep_ms(TRACE_POLL_MS);
	}
	/* Ctrl-C: one more report for the interval it cut short */
	if (t->rb)
		ring_buffer__consume(t->rb);
	report(t, trace_now_ns());
	return 0;
}

static int run_screen(struct trace *t)
{
	unsigned long long next = 0, now;
	struct window w[2];
	bool dirty = true;

	memset(w, 0, sizeof(w));
	screen_open();
	while (!trace_exiting && !scr.quit) {
		int ch = getch(); /* waits up to TRACE_POLL_MS */

		if (ch != ERR && screen_key(ch)) {
			dirty = true;
			build_rows(); /* a new sort, group or filter now (paused: on old data) */
		}
		if (t->rb)
			ring_buffer__consume(t->rb);
		now = trace_now_ns();
		snap_tick(now);
		if (!scr.paused && now >= next) {
			if (iv.count && iv.reports++ >= iv.count)
				break;
			collect(now);
			build_rows();
			windows(w, now);
			next = now + iv.ms * 1000000ULL;
			dirty = true;
		}
		if (dirty) {
			draw(now, w, trace_drops(t));
			dirty = false;
		}
	}
	screen_close();
	return 0;
}

int top_main(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &trace_argp, 0, "Common options:", 0 },
		{ 0 },
	};
	static const struct argp argp = { opts, parse_arg, "[interval [count]]", top_doc, children,
					  NULL, NULL };
	struct top_bpf *skel = NULL;
	struct trace t = { .drops_fd = -1 };
	int err;

	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return 2;
	if (!iv.ms)
		iv.ms = 2000;
	if (!env.batch && !env.json && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		trace_err("full screen needs a terminal: give -b (text) or -j (JSON) for a pipe");
		return 2;
	}
	err = alloc_state();
	if (err)
		goto cleanup;
	if (env.filter && set_filter(env.filter)) {
		trace_err("%s (-f takes a POSIX extended regex)", scr.msg);
		free_state();
		return 2; /* a usage error, as argp's */
	}
	err = trace_init(&t);
	if (err)
		goto cleanup;
	if (!env.batch && !env.json)
		t.end_hint = "q to quit";

	skel = top_bpf__open();
	if (!skel) {
		err = -errno;
		trace_err("cannot open the BPF program: %s", strerror(-err));
		goto cleanup;
	}
	skel->rodata->recent_events = env.window_n > 0;
	err = bpf_map__set_max_entries(skel->maps.stats, env.max_keys);
	if (!err && !env.window_n) /* the ring buffer is unused then: keep it small */
		err = bpf_map__set_max_entries(skel->maps.events, (__u32)getpagesize());
	if (err) {
		trace_err("cannot size the maps: %s", strerror(-err));
		goto cleanup;
	}
	err = trace_load(&t, skel->skeleton);
	if (err)
		goto cleanup;
	col.totals_fd = bpf_map__fd(skel->maps.totals);
	col.stats_fd = bpf_map__fd(skel->maps.stats);
	col.inflight_fd = bpf_map__fd(skel->maps.inflight);
	err = trace_attach(&t);
	if (err)
		goto cleanup;
	if (env.window_n) {
		err = trace_stream_open(&t, recent_event, NULL);
		if (err)
			goto cleanup;
	} else {
		t.drops_fd = bpf_map__fd(skel->maps.trace_drops);
	}
	col.start_ns = t.start_ns;
	col.next_snap_ns = col.start_ns + NS_PER_S;

	err = env.batch || env.json ? run_batch(&t) : run_screen(&t);

cleanup:
	screen_close();
	trace_close(&t);
	top_bpf__destroy(skel);
	free_state();
	return trace_exit_status(err);
}
