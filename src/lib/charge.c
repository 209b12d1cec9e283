/*
 * charge.c - the user side of per-request counters (charge.h): one line
 * per request as it ends (-r), or totals per uri printed as a table at each
 * report, sorted on one column, the busiest first.
 */
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "filter.h"
#include "fmt.h"
#include "options.h"
#include "proc.h"
#include "charge.h"
#include "stream.h"

struct charge_env charge_env;

static const struct argp_option opts[] = {
	{ "per-request", 'r', NULL, 0, "One line per request instead of per uri", 0 },
	{ "top", 't', "N", 0, "Only the first N uris of the table", 0 },
	{ 0 },
};

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	unsigned long long n;

	switch (key) {
	case 'r':
		charge_env.per_request = true;
		break;
	case 't':
		if (opt_count_parse(arg, &n) || n > 1000000)
			argp_error(state, "invalid count '%s'", arg);
		charge_env.top = (int)n;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp charge_argp = { opts, parse_arg, NULL, NULL, NULL, NULL, NULL };

const struct argp_child charge_children[] = {
	{ &charge_argp, 0, NULL, 0 },
	{ &trace_json_argp, 0, NULL, 0 },
	{ &trace_duration_argp, 0, NULL, 0 },
	{ &trace_stream_argp, 0, "Ring buffer:", 0 },
	{ &trace_argp, 0, "Common options:", 0 },
	{ 0 },
};

/* Totals of one uri since the last report. */
struct uri_total {
	char uri[STR_URI];
	unsigned long long requests;
	unsigned long long v[CHARGE_MAX];
};

static struct uri_total *totals;
static size_t ntotals, cap;

/* Human output: the number of columns shown, and the counter of the i-th. */
static int shown(const struct charge_opts *o)
{
	return o->show ? o->nshow : o->ncols;
}

static int shown_col(const struct charge_opts *o, int i)
{
	return o->show ? o->show[i] : i;
}

static void print_heads(const struct charge_opts *o)
{
	for (int i = 0; i < shown(o); i++)
		printf(" %*s", o->cols[shown_col(o, i)].width, o->cols[shown_col(o, i)].head);
}

/* The shown columns of counters v, each divided by its unit and by per. */
static void print_values(const struct charge_opts *o, const unsigned long long *v,
			 unsigned long long per)
{
	for (int i = 0; i < shown(o); i++) {
		const struct charge_col *c = &o->cols[shown_col(o, i)];

		printf(" %*llu", c->width, v[shown_col(o, i)] / c->div / per);
	}
}

void charge_begin(const struct charge_opts *o)
{
	if (!o->per_request || o->json)
		return;
	printf("%-8s", "ID");
	print_heads(o);
	printf(" %s\n", "URI");
}

static void print_json_values(const struct charge_opts *o, const unsigned long long *v,
			      unsigned long long per)
{
	for (int i = 0; i < o->ncols; i++)
		printf(",\"%s\":%llu", o->cols[i].json, v[i] / o->cols[i].div / per);
}

/* The totals entry of uri, added when new; NULL when out of memory. */
static struct uri_total *uri_total(const char *uri)
{
	for (size_t i = 0; i < ntotals; i++)
		if (!strcmp(totals[i].uri, uri))
			return &totals[i];
	if (ntotals == cap) {
		size_t ncap = cap ? 2 * cap : 64;
		struct uri_total *n = realloc(totals, ncap * sizeof(*n));

		if (!n)
			return NULL;
		totals = n;
		cap = ncap;
	}
	memset(&totals[ntotals], 0, sizeof(totals[0]));
	snprintf(totals[ntotals].uri, sizeof(totals[0].uri), "%s", uri);
	return &totals[ntotals++];
}

int charge_event(const struct charge_opts *o, const struct charge_event *e)
{
	unsigned long long v[CHARGE_MAX];
	char uri[FMT_ESC_SIZE(STR_URI)];
	struct uri_total *t;

	for (int i = 0; i < CHARGE_MAX; i++)
		v[i] = e->v[i];
	if (o->per_request && o->json) {
		printf("{\"type\":\"request\",\"id\":%llu,\"pid\":%u,\"tid\":%u,\"uri\":",
		       (unsigned long long)e->id, e->pid, e->tid);
		fmt_json_str(stdout, e->uri);
		if (e->conn_id)
			printf(",\"conn_id\":%llu", (unsigned long long)e->conn_id);
		print_json_values(o, v, 1);
		printf("}\n");
	} else if (o->per_request) {
		printf("%-8llu", (unsigned long long)e->id);
		print_values(o, v, 1);
		printf(" %s\n", fmt_esc(uri, sizeof(uri), e->uri));
	} else if ((t = uri_total(e->uri))) {
		t->requests++;
		for (int i = 0; i < CHARGE_MAX; i++)
			t->v[i] += v[i];
	}
	return 0;
}

static int sort_col;

static int by_column(const void *a, const void *b)
{
	const struct uri_total *x = a, *y = b;

	if (x->v[sort_col] != y->v[sort_col])
		return x->v[sort_col] < y->v[sort_col] ? 1 : -1;
	return strcmp(x->uri, y->uri);
}

void charge_report(const struct charge_opts *o)
{
	char uri[FMT_ESC_SIZE(STR_URI)];
	size_t n;

	if (o->per_request)
		return;
	sort_col = o->sort;
	qsort(totals, ntotals, sizeof(totals[0]), by_column);
	n = o->top && (size_t)o->top < ntotals ? (size_t)o->top : ntotals;
	if (o->json) {
		for (size_t i = 0; i < n; i++) {
			printf("{\"type\":\"uri\",\"uri\":");
			fmt_json_str(stdout, totals[i].uri);
			printf(",\"requests\":%llu", totals[i].requests);
			print_json_values(o, totals[i].v, 1);
			printf("}\n");
		}
	} else {
		printf("%6s", "REQS");
		print_heads(o);
		printf(" %s\n", "URI (per request: mean)");
		for (size_t i = 0; i < n; i++) {
			printf("%6llu", totals[i].requests);
			print_values(o, totals[i].v, totals[i].requests);
			printf(" %s\n", fmt_esc(uri, sizeof(uri), totals[i].uri));
		}
	}
	ntotals = 0;
}

void charge_free(void)
{
	free(totals);
	totals = NULL;
	ntotals = cap = 0;
}

struct procs_ctx {
	const char *module;
	int fd;
};

static int add_proc(pid_t pid, void *ctx)
{
	struct procs_ctx *pc = ctx;
	__u32 tgid = (__u32)pid;
	__u8 one = 1;

	if (proc_maps_file(pid, pc->module))
		bpf_map_update_elem(pc->fd, &tgid, &one, BPF_ANY);
	return 0;
}

void charge_add_procs(struct trace *t, struct bpf_map *procs)
{
	struct procs_ctx pc = { t->module, bpf_map__fd(procs) };

	proc_each(add_proc, &pc);
}

/* What the stream's callbacks need. */
struct run {
	struct trace_stream stream;
	struct charge_opts *o;
	void (*tick)(void *ctx);
	void *tick_ctx;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct run *r = ctx;

	if (size < sizeof(struct charge_event))
		return 0;
	r->stream.count++;
	if (r->o->view)
		return r->o->view->event(r->o, data);
	return charge_event(r->o, data);
}

static void on_begin(void *ctx)
{
	struct run *r = ctx;

	if (r->o->view)
		r->o->view->begin(r->o);
	else
		charge_begin(r->o);
}

static void on_tick(void *ctx)
{
	struct run *r = ctx;

	if (r->tick)
		r->tick(r->tick_ctx);
}

static void on_end(void *ctx)
{
	struct run *r = ctx;

	if (r->o->view)
		r->o->view->end(r->o);
	else
		charge_report(r->o);
}

int charge_run(struct trace *t, struct charge_opts *o, void (*tick)(void *ctx), void *ctx)
{
	struct run r = {
		.stream = { .fn = on_event, .begin = on_begin, .tick = on_tick, .end = on_end,
			    .what = "requests" },
		.o = o, .tick = tick, .tick_ctx = ctx,
	};

	r.stream.ctx = &r;
	o->per_request = charge_env.per_request;
	o->json = trace_env.json;
	o->top = charge_env.top;
	return trace_stream_run(t, &r.stream);
}
