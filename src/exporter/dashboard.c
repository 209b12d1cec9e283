/*
 * dashboard.c - the exporter's live page (dashboard.h).
 *
 * Once a second the main loop samples the request series (what the scrape
 * reads) into a history of DASH_WINDOW seconds: per status class and per
 * duration bucket, the requests finished in that second. While pages are
 * open it also builds one update (dash_update.c: that sample, the requests
 * in flight, top's table per (vhost, uri), connections, phases, Apache and
 * the exporter's health, as JSON) and wakes the connections streaming
 * /events, each in a thread of its own (libmicrohttpd, a thread per
 * connection). A page that connects is first sent the history.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "dashboard.h"
#include "dash_update.h"
#include "metrics.h"
#include "exporter.skel.h"
#include "lib/fmt.h"
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

static struct exporter_bpf *skel;
static const struct exporter_config *cfg;

/* The sampler's own state (main thread only). */
static struct dash_sample prev_cum;        /* the cumulative counts at the last tick */
static unsigned long long prev_ns, next_ns;

/* Shared with the streaming threads, under lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct dash_sample history[DASH_WINDOW];
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

/* The first event of a stream: what does not change, and the history. */
static char *build_hello(size_t *len)
{
	static const unsigned long long bounds[EXP_DUR_BUCKETS] = EXP_DUR_BOUNDS_US;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	fputs("retry: 2000\nevent: hello\ndata: {\"bounds_us\":", f);
	dash_json_u64s(f, bounds, EXP_DUR_BUCKETS);
	fprintf(f, ",\"window\":%d,\"version\":\"%s\",\"phases\":%s,\"module\":", DASH_WINDOW,
		HTTPDTRACE_VERSION, cfg->phases ? "true" : "false");
	fmt_json_str(f, cfg->module);
	fputs(",\"history\":[", f);
	for (unsigned int i = 0; i < nhistory; i++) {
		if (i)
			fputc(',', f);
		dash_json_sample(f, &history[(history_head + i) % DASH_WINDOW]);
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
	dash_read_cumulative(skel, &prev_cum, &nseries);
	prev_ns = trace_now_ns();
	next_ns = prev_ns + 1000000000ULL;
}

void dash_tick(unsigned long long now_ns)
{
	struct dash_sample cum, d = { 0 };
	struct dash_update_in in;
	unsigned int open;
	char *msg = NULL;
	size_t len = 0;
	int nseries = 0;

	if (now_ns < next_ns)
		return;
	/* one a second; after a stall, start again from now */
	next_ns = now_ns - next_ns > 2000000000ULL ? now_ns + 1000000000ULL :
						     next_ns + 1000000000ULL;
	if (dash_read_cumulative(skel, &cum, &nseries))
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
	in = (struct dash_update_in){ .skel = skel, .cfg = cfg, .sample = &d, .nseries = nseries,
				      .pages = open, .top_since_ms = top_since_ms,
				      .now_ns = now_ns, .seq = update_seq + 1 };
	msg = dash_build_update(&in, &len);
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
