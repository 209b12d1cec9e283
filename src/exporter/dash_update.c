/*
 * dash_update.c - what the dashboard sends (dash_update.h): the samples of
 * the request series and the update of every second, written as JSON.
 *
 * Every string a client sent (uri, vhost, method) is escaped as the access
 * log does (\xNN) and then as JSON; the page only ever sets it as text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "dash_update.h"
#include "dashboard.h"
#include "metrics.h"
#include "read.h"
#include "exporter.skel.h"
#include "lib/fmt.h"
#include "lib/hist.h"

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

void dash_json_u64s(FILE *f, const unsigned long long *v, int n)
{
	fputc('[', f);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s%llu", i ? "," : "", v[i]);
	fputc(']', f);
}

void dash_json_sample(FILE *f, const struct dash_sample *s)
{
	fprintf(f, "{\"t\":%llu,\"dt\":%.3f,\"classes\":", s->t_ms, s->dt);
	dash_json_u64s(f, s->classes, 6);
	fputs(",\"buckets\":", f);
	dash_json_u64s(f, s->buckets, EXP_DUR_BUCKETS + 1);
	fprintf(f, ",\"sum_us\":%llu}", s->sum_us);
}

int dash_read_cumulative(struct exporter_bpf *skel, struct dash_sample *cum, int *nseries)
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

static void write_inflight(FILE *f, struct exporter_bpf *skel, unsigned long long now_ns)
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
static void write_top(FILE *f, struct exporter_bpf *skel, unsigned long long since_ms)
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
	fprintf(f, "{\"since\":%llu,\"rows\":[", since_ms);
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

static void write_totals(FILE *f, const struct exporter_config *cfg,
			 const struct exp_totals *x)
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

static void write_apache(FILE *f, const struct exporter_config *cfg, unsigned long long now_ns)
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

char *dash_build_update(const struct dash_update_in *in, size_t *len)
{
	struct exporter_bpf *skel = in->skel;
	const struct exporter_config *cfg = in->cfg;
	struct exp_totals x;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	if (exp_read_totals(skel, &x))
		memset(&x, 0, sizeof(x));
	fprintf(f, "event: update\ndata: {\"seq\":%llu,\"sample\":", in->seq);
	dash_json_sample(f, in->sample);
	fputs(",\"inflight\":", f);
	write_inflight(f, skel, in->now_ns);
	fputs(",\"top\":", f);
	write_top(f, skel, in->top_since_ms);
	write_totals(f, cfg, &x);
	write_apache(f, cfg, in->now_ns);
	fprintf(f, ",\"health\":{\"series\":%d,\"max_series\":%llu,\"folded\":%llu,"
		"\"untracked\":%llu,\"top_overflow\":%llu,\"pages\":%u}}\n\n", in->nseries,
		cfg->max_series, (unsigned long long)x.folded, (unsigned long long)x.untracked,
		(unsigned long long)x.dash_overflow, in->pages);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}
