/*
 * dashboard.c - the exporter's live page (dashboard.h).
 *
 * Once a second the main loop samples the request series (what the scrape
 * reads) into a history of DASH_WINDOW seconds: per status class and per
 * duration bucket, the requests finished in that second. While pages are
 * open it also builds one update (JSON: that sample, the requests in
 * flight, top's table per (vhost, uri), connections, phases, Apache and the
 * exporter's health) and wakes the connections streaming /events, each in a
 * thread of its own (libmicrohttpd, a thread per connection). A page that
 * connects is first sent the history.
 *
 * Every string a client sent (uri, vhost, method) is escaped as the access
 * log does (\xNN) and then as JSON; the page only ever sets it as text.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "dashboard.h"
#include "metrics.h"
#include "read.h"
#include "exporter.skel.h"
#include "lib/fmt.h"
#include "lib/hist.h"
#include "httpdtrace.h"
#include "lib/trace.h"

/* The page's files, built in (assets.c). */
extern const char dash_index_html[], dash_index_html_end[];
extern const char dash_app_js[], dash_app_js_end[];
extern const char dash_core_js[], dash_core_js_end[];
extern const char dash_css[], dash_css_end[];
extern const char dash_chart_js[], dash_chart_js_end[];

#define CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " \
	    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
#define KEEPALIVE_S 5 /* a comment on a stream that had nothing newer this long */

static const struct {
	const char *path, *type;
	const char *start, *end;
} files[] = {
	{ "/", "text/html; charset=utf-8", dash_index_html, dash_index_html_end },
	{ "/dashboard.mjs", "text/javascript; charset=utf-8", dash_app_js, dash_app_js_end },
	{ "/dash_core.mjs", "text/javascript; charset=utf-8", dash_core_js, dash_core_js_end },
	{ "/dashboard.css", "text/css; charset=utf-8", dash_css, dash_css_end },
	{ "/chart.min.js", "text/javascript; charset=utf-8", dash_chart_js, dash_chart_js_end },
};

/* One second of finished requests. */
struct sample {
	unsigned long long t_ms;                     /* wall clock at its end */
	double dt;                                   /* seconds it spans */
	unsigned long long classes[6];               /* other, 1xx ... 5xx */
	unsigned long long buckets[EXP_DUR_BUCKETS + 1]; /* the last: over 10 s */
	unsigned long long sum_us;
};

static struct exporter_bpf *skel;
static const struct exporter_config *cfg;

/* The sampler's own state (main thread only). */
static struct sample prev_cum;        /* the cumulative counts at the last tick */
static unsigned long long prev_ns, next_ns;

/* Shared with the streaming threads, under lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct sample history[DASH_WINDOW];
static unsigned int nhistory, history_head;   /* ring: oldest at head */
static char *update;                          /* the latest update, an SSE event */
static size_t update_len;
static unsigned long long update_seq;
static unsigned int viewers;
static unsigned long long top_since_ms;       /* when top's table began */
static bool closing;

static unsigned long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

/* A client's string: escaped for a terminal (\xNN), then as JSON. */
static void json_client_str(FILE *f, const char *s, size_t size)
{
	char raw[STR_TOP_URI + 1], esc[FMT_ESC_SIZE(STR_TOP_URI)];

	if (size > STR_TOP_URI)
		size = STR_TOP_URI;
	memcpy(raw, s, size);
	raw[size] = '\0';
	fmt_json_str(f, fmt_esc(esc, sizeof(esc), raw));
}

static void json_u64s(FILE *f, const unsigned long long *v, int n)
{
	fputc('[', f);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s%llu", i ? "," : "", v[i]);
	fputc(']', f);
}

static void json_sample(FILE *f, const struct sample *s)
{
	fprintf(f, "{\"t\":%llu,\"dt\":%.3f,\"classes\":", s->t_ms, s->dt);
	json_u64s(f, s->classes, 6);
	fputs(",\"buckets\":", f);
	json_u64s(f, s->buckets, EXP_DUR_BUCKETS + 1);
	fprintf(f, ",\"sum_us\":%llu}", s->sum_us);
}

/* Every series summed into cumulative counts per class and bucket. */
static int read_cumulative(struct sample *cum, int *nseries)
{
	struct exp_series *s = NULL;
	int n = exp_read_series(skel, &s);

	memset(cum, 0, sizeof(*cum));
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		const struct exp_req_val *v = &s[i].val;
		unsigned int status = s[i].other ? 0 : s[i].key.status;
		unsigned long long in_bounds = 0;

		cum->classes[status >= 100 && status < 600 ? status / 100 : 0] += v->count;
		for (int b = 0; b < EXP_DUR_BUCKETS; b++) {
			cum->buckets[b] += v->duration[b];
			in_bounds += v->duration[b];
		}
		cum->buckets[EXP_DUR_BUCKETS] += v->count - in_bounds;
		cum->sum_us += v->duration_us;
	}
	*nseries = n - (n && s[n - 1].other);
	free(s);
	return 0;
}

/* ---------------------------------------------------------------------------
 * The update
 * ------------------------------------------------------------------------- */
struct flights {
	struct exp_flight f[EXP_INFLIGHT_SLOTS];
	unsigned int n;
};

static void flight_keep(const struct exp_flight *f, void *ctx)
{
	struct flights *fl = ctx;

	if (fl->n < EXP_INFLIGHT_SLOTS)
		fl->f[fl->n++] = *f;
}

static int flight_older(const void *a, const void *b)
{
	const struct exp_flight *x = a, *y = b;

	return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

static void write_inflight(FILE *f, unsigned long long now_ns)
{
	struct flights *fl = calloc(1, sizeof(*fl));
	unsigned long long oldest, n;

	if (!fl) {
		fputs("null", f);
		return;
	}
	n = exp_inflight(skel, &oldest, flight_keep, fl);
	qsort(fl->f, fl->n, sizeof(fl->f[0]), flight_older);
	fprintf(f, "{\"n\":%llu,\"rows\":[", n);
	for (unsigned int i = 0; i < fl->n && i < DASH_INFLIGHT_ROWS; i++) {
		const struct exp_flight *x = &fl->f[i];
		struct exp_flight_text *live = &skel->bss->inflight_text[x->slot], text;
		bool known;

		/* the strings are the request's if their id is its before and
		 * after the copy, and the slot is still its */
		text.id = __atomic_load_n(&live->id, __ATOMIC_ACQUIRE);
		memcpy(text.method, live->method, sizeof(text.method));
		memcpy(text.vhost, live->vhost, sizeof(text.vhost));
		memcpy(text.uri, live->uri, sizeof(text.uri));
		known = text.id == x->id && __atomic_load_n(&live->id, __ATOMIC_ACQUIRE) == x->id &&
			__atomic_load_n(&skel->bss->inflight[x->slot].id, __ATOMIC_ACQUIRE) == x->id;

		fprintf(f, "%s{\"age_us\":%llu,\"pid\":%u,\"method\":", i ? "," : "",
			now_ns > x->start_ns ? (now_ns - x->start_ns) / 1000 : 0, x->tgid);
		if (known) {
			json_client_str(f, text.method, sizeof(text.method));
			fputs(",\"vhost\":", f);
			json_client_str(f, text.vhost, sizeof(text.vhost));
			fputs(",\"uri\":", f);
			json_client_str(f, text.uri, sizeof(text.uri));
		} else { /* begun before a page was open */
			fputs("null,\"vhost\":null,\"uri\":null", f);
		}
		fputc('}', f);
	}
	fputs("]}", f);
	free(fl);
}

struct top_row {
	struct exp_dash_key key;
	struct hist h;
	bool shown;
};

static int by_count(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;

	return x->h.count > y->h.count ? -1 : x->h.count < y->h.count;
}

static int by_time(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;

	return x->h.sum > y->h.sum ? -1 : x->h.sum < y->h.sum;
}

static void json_hist(FILE *f, const struct hist *h)
{
	fprintf(f, "\"count\":%llu,\"sum_us\":%llu,\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,"
		"\"max\":%llu", h->count, h->sum, hist_percentile(h, 50), hist_percentile(h, 90),
		hist_percentile(h, 99), h->max);
}

/* top's table: the DASH_TOP_ROWS (vhost, uri) rows with most requests and
 * those with most time, and every vhost summed. */
static void write_top(FILE *f)
{
	int fd = bpf_map__fd(skel->maps.dash_uris), n = 0, nv = 0;
	struct top_row *rows = calloc(EXP_DASH_KEYS, sizeof(*rows));
	struct top_row *vhosts = calloc(EXP_DASH_KEYS, sizeof(*vhosts));
	struct exp_dash_key key, *prev = NULL;
	bool first = true;

	if (!rows || !vhosts) {
		fputs("null", f);
		free(rows);
		free(vhosts);
		return;
	}
	while (n < EXP_DASH_KEYS && !bpf_map_get_next_key(fd, prev, &key)) {
		prev = &key;
		rows[n].key = key;
		if (!bpf_map_lookup_elem(fd, &key, &rows[n].h))
			n++;
	}
	for (int i = 0; i < n; i++) {
		int v = 0;

		while (v < nv && strncmp(vhosts[v].key.vhost, rows[i].key.vhost, STR_NAME))
			v++;
		if (v == nv)
			memcpy(vhosts[nv++].key.vhost, rows[i].key.vhost, STR_NAME);
		hist_merge(&vhosts[v].h, &rows[i].h);
	}
	fprintf(f, "{\"since\":%llu,\"rows\":[", top_since_ms);
	for (int pass = 0; pass < 2; pass++) {
		qsort(rows, (size_t)n, sizeof(*rows), pass ? by_time : by_count);
		for (int i = 0; i < n && i < DASH_TOP_ROWS; i++) {
			if (rows[i].shown)
				continue;
			rows[i].shown = true;
			fputs(first ? "{\"vhost\":" : ",{\"vhost\":", f);
			first = false;
			json_client_str(f, rows[i].key.vhost, STR_NAME);
			fputs(",\"uri\":", f);
			json_client_str(f, rows[i].key.uri, STR_TOP_URI);
			fputc(',', f);
			json_hist(f, &rows[i].h);
			fputc('}', f);
		}
	}
	fputs("],\"vhosts\":[", f);
	qsort(vhosts, (size_t)nv, sizeof(*vhosts), by_count);
	for (int v = 0; v < nv; v++) {
		fputs(v ? ",{\"vhost\":" : "{\"vhost\":", f);
		json_client_str(f, vhosts[v].key.vhost, STR_NAME);
		fputc(',', f);
		json_hist(f, &vhosts[v].h);
		fputc('}', f);
	}
	fprintf(f, "],\"keys\":%d}", n);
	free(rows);
	free(vhosts);
}

static void write_totals(FILE *f, const struct exp_totals *x)
{
	static const char *const names[PHASES_N] = PHASES_NAMES;
	unsigned long long closed = 0;

	for (int r = 0; r < EXP_REASONS; r++)
		closed += x->conns_closed[r];
	fprintf(f, ",\"conns\":{\"open\":%llu,\"opened\":%llu,\"closed\":%llu,\"requests\":%llu}",
		(unsigned long long)x->conns_opened - closed,
		(unsigned long long)x->conns_opened, closed,
		(unsigned long long)x->conn_requests);
	fputs(",\"phases\":", f);
	if (!cfg->phases) {
		fputs("null", f);
	} else {
		fputc('[', f);
		for (int p = 0; p < PHASES_N; p++)
			fprintf(f, "%s{\"name\":\"%s\",\"count\":%llu,\"sum_us\":%llu}",
				p ? "," : "", names[p], (unsigned long long)x->phase_count[p],
				(unsigned long long)x->phase_us[p]);
		fputc(']', f);
	}
}

static void write_apache(FILE *f, unsigned long long now_ns)
{
	struct exp_apache a[EXP_APACHES_MAX];
	int n = exp_apaches(cfg->module, now_ns, a);

	fputs(",\"apache\":[", f);
	for (int i = 0; i < n; i++) {
		fprintf(f, "%s{\"pid\":%d,\"procs\":%d,\"version\":", i ? "," : "", (int)a[i].pid,
			a[i].procs);
		fmt_json_str(f, a[i].version);
		fputs(",\"mpm\":", f);
		fmt_json_str(f, a[i].mpm);
		fputc('}', f);
	}
	fputc(']', f);
}

/* The update for the open pages: an SSE event, malloc'd. */
static char *build_update(const struct sample *s, int nseries, unsigned int pages,
			  unsigned long long now_ns, unsigned long long seq, size_t *len)
{
	struct exp_totals x;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	if (exp_read_totals(skel, &x))
		memset(&x, 0, sizeof(x));
	fprintf(f, "event: update\ndata: {\"seq\":%llu,\"sample\":", seq);
	json_sample(f, s);
	fputs(",\"inflight\":", f);
	write_inflight(f, now_ns);
	fputs(",\"top\":", f);
	write_top(f);
	write_totals(f, &x);
	write_apache(f, now_ns);
	fprintf(f, ",\"health\":{\"series\":%d,\"max_series\":%llu,\"folded\":%llu,"
		"\"untracked\":%llu,\"top_overflow\":%llu,\"pages\":%u}}\n\n", nseries,
		cfg->max_series, (unsigned long long)x.folded, (unsigned long long)x.untracked,
		(unsigned long long)x.dash_overflow, pages);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The first event of a stream: what does not change, and the history. */
static char *build_hello(size_t *len)
{
	static const unsigned long long bounds[EXP_DUR_BUCKETS] = EXP_DUR_BOUNDS_US;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	fputs("retry: 2000\nevent: hello\ndata: {\"bounds_us\":", f);
	json_u64s(f, bounds, EXP_DUR_BUCKETS);
	fprintf(f, ",\"window\":%d,\"version\":\"%s\",\"phases\":%s,\"module\":", DASH_WINDOW,
		HTTPDTRACE_VERSION, cfg->phases ? "true" : "false");
	fmt_json_str(f, cfg->module);
	fputs(",\"history\":[", f);
	for (unsigned int i = 0; i < nhistory; i++) {
		if (i)
			fputc(',', f);
		json_sample(f, &history[(history_head + i) % DASH_WINDOW]);
	}
	fputs("]}\n\n", f);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---------------------------------------------------------------------------
 * The sampler (main thread)
 * ------------------------------------------------------------------------- */
void dash_init(struct exporter_bpf *s, const struct exporter_config *c)
{
	int nseries;

	skel = s;
	cfg = c;
	read_cumulative(&prev_cum, &nseries);
	prev_ns = trace_now_ns();
	next_ns = prev_ns + 1000000000ULL;
}

void dash_tick(unsigned long long now_ns)
{
	struct sample cum, d = { 0 };
	unsigned int open;
	char *msg = NULL;
	size_t len = 0;
	int nseries = 0;

	if (now_ns < next_ns)
		return;
	/* one a second; after a stall, start again from now */
	next_ns = now_ns - next_ns > 2000000000ULL ? now_ns + 1000000000ULL :
						     next_ns + 1000000000ULL;
	if (read_cumulative(&cum, &nseries))
		return;
	d.t_ms = wall_ms();
	d.dt = (double)(now_ns - prev_ns) / 1e9;
	for (int i = 0; i < 6; i++)
		d.classes[i] = cum.classes[i] - prev_cum.classes[i];
	for (int b = 0; b <= EXP_DUR_BUCKETS; b++)
		d.buckets[b] = cum.buckets[b] - prev_cum.buckets[b];
	d.sum_us = cum.sum_us - prev_cum.sum_us;
	prev_cum = cum;
	prev_ns = now_ns;

	pthread_mutex_lock(&lock);
	history[(history_head + nhistory) % DASH_WINDOW] = d;
	if (nhistory < DASH_WINDOW)
		nhistory++;
	else
		history_head = (history_head + 1) % DASH_WINDOW;
	open = viewers;
	pthread_mutex_unlock(&lock);
	if (!open)
		return;
	msg = build_update(&d, nseries, open, now_ns, update_seq + 1, &len);
	if (!msg)
		return;
	pthread_mutex_lock(&lock);
	free(update);
	update = msg;
	update_len = len;
	update_seq++;
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&lock);
}

/* ---------------------------------------------------------------------------
 * The streams (one thread each)
 * ------------------------------------------------------------------------- */
struct stream {
	char *buf;
	size_t len, off;
	unsigned long long seq; /* of the update sent last */
	bool hello;             /* sent */
};

/* Set how many pages the BPF side serves; a first page starts top's table
 * afresh. Under lock. */
static void viewers_set(unsigned int n)
{
	if (!viewers && n) {
		struct exp_dash_key key;
		int fd = bpf_map__fd(skel->maps.dash_uris);

		while (!bpf_map_get_next_key(fd, NULL, &key))
			bpf_map_delete_elem(fd, &key);
		top_since_ms = wall_ms();
	}
	viewers = n;
	__atomic_store_n(&skel->bss->dash_viewers, n, __ATOMIC_RELEASE);
}

/* The next event for a stream: hello first, then each newer update; a
 * comment when none came for KEEPALIVE_S. Under lock. false: the stream
 * ends. */
static bool stream_next(struct stream *st)
{
	struct timespec until;

	free(st->buf);
	st->buf = NULL;
	st->len = st->off = 0;
	if (!st->hello) {
		st->hello = true;
		st->buf = build_hello(&st->len);
		return st->buf != NULL;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += KEEPALIVE_S;
	while (!closing && st->seq == update_seq)
		if (pthread_cond_timedwait(&wake, &lock, &until) == ETIMEDOUT)
			break;
	if (closing)
		return false;
	if (st->seq == update_seq || !update) {
		st->buf = strdup(": keepalive\n\n");
		st->len = st->buf ? strlen(st->buf) : 0;
	} else {
		st->buf = malloc(update_len);
		if (st->buf)
			memcpy(st->buf, update, update_len);
		st->len = update_len;
		st->seq = update_seq;
	}
	return st->buf != NULL;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct stream *st = cls;
	size_t n;

	(void)pos;
	if (st->off == st->len) {
		bool more;

		pthread_mutex_lock(&lock);
		more = stream_next(st);
		pthread_mutex_unlock(&lock);
		if (!more)
			return MHD_CONTENT_READER_END_OF_STREAM;
	}
	n = st->len - st->off < max ? st->len - st->off : max;
	memcpy(out, st->buf + st->off, n);
	st->off += n;
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct stream *st = cls;

	pthread_mutex_lock(&lock);
	viewers_set(viewers - 1);
	pthread_mutex_unlock(&lock);
	free(st->buf);
	free(st);
}

static void common_headers(struct MHD_Response *r, const char *type)
{
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, "Content-Security-Policy", CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
}

static enum MHD_Result stream_start(struct MHD_Connection *c)
{
	struct MHD_Response *r = NULL;
	struct stream *st = NULL;
	enum MHD_Result ret;

	pthread_mutex_lock(&lock);
	if (viewers < DASH_MAX_VIEWERS && !closing && (st = calloc(1, sizeof(*st))))
		viewers_set(viewers + 1);
	pthread_mutex_unlock(&lock);
	if (!st) {
		static const char busy[] = "too many dashboards open\n";

		r = MHD_create_response_from_buffer(sizeof(busy) - 1, (void *)busy,
						    MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
		common_headers(r, "text/plain; charset=utf-8");
		ret = MHD_queue_response(c, MHD_HTTP_SERVICE_UNAVAILABLE, r);
		MHD_destroy_response(r);
		return ret;
	}
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, st,
					      stream_free);
	if (!r) {
		stream_free(st);
		return MHD_NO;
	}
	common_headers(r, "text/event-stream; charset=utf-8");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result dash_serve(struct MHD_Connection *c, const char *url, bool *served)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	*served = true;
	if (!strcmp(url, "/events"))
		return stream_start(c);
	if (!strcmp(url, "/favicon.ico")) { /* none: a browser asks anyway */
		r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
		ret = MHD_queue_response(c, MHD_HTTP_NO_CONTENT, r);
		MHD_destroy_response(r);
		return ret;
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (strcmp(url, files[i].path))
			continue;
		r = MHD_create_response_from_buffer((size_t)(files[i].end - files[i].start),
						    (void *)files[i].start, MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
		common_headers(r, files[i].type);
		ret = MHD_queue_response(c, MHD_HTTP_OK, r);
		MHD_destroy_response(r);
		return ret;
	}
	*served = false;
	return MHD_NO;
}

void dash_close(void)
{
	pthread_mutex_lock(&lock);
	closing = true;
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&lock);
}
