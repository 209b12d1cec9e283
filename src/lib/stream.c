/*
 * stream.c - the loops of httpdtrace's subcommands: the ring-buffer
 * consumer that never asks the kernel for a wake-up per event, with drops
 * reported and the stream's summary (trace_stream_run), the [interval]
 * [count] reports and the TIME column (see stream.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "fmt.h"
#include "options.h"
#include "stream.h"

#define DROPS_EVERY_NS 1000000000ULL

/* ---------------------------------------------------------------------------
 * Streaming events
 * ------------------------------------------------------------------------- */
int trace_stream_open(struct trace *t, ring_buffer_sample_fn fn, void *ctx)
{
	struct bpf_map *events = bpf_object__find_map_by_name(t->obj, "events");

	if (!events || t->drops_fd < 0) {
		trace_err("the BPF program has no events/trace_drops maps (define TRACE_EVENTS)");
		return -ENOENT;
	}
	t->rb = ring_buffer__new(bpf_map__fd(events), fn, ctx, NULL);
	if (!t->rb) {
		int err = -errno;

		trace_err("cannot open the ring buffer: %s", strerror(-err));
		return err;
	}
	return 0;
}

unsigned long long trace_drops(struct trace *t)
{
	int ncpus = libbpf_num_possible_cpus();
	unsigned long long total = 0;
	__u32 zero = 0;

	if (t->drops_fd < 0 || ncpus <= 0)
		return t->drops;
	{
		unsigned long long vals[ncpus];

		if (bpf_map_lookup_elem(t->drops_fd, &zero, vals))
			return t->drops;
		for (int i = 0; i < ncpus; i++)
			total += vals[i];
	}
	t->drops = total;
	return total;
}

/* Tell about drops that are new since the last report; at most once a second
 * unless `now`. */
static void drops_report(struct trace *t, bool now)
{
	static unsigned long long last_ns;
	unsigned long long total = trace_drops(t), ns = trace_now_ns();

	if (total <= t->drops_shown || (!now && ns - last_ns < DROPS_EVERY_NS))
		return;
	last_ns = ns;
	trace_warn("%llu events dropped so far: the ring buffer was full (raise -b)", total);
	t->drops_shown = total;
	if (t->on_drops)
		t->on_drops(t, total);
}

void trace_drops_json(struct trace *t, unsigned long long total)
{
	(void)t;
	printf("{\"type\":\"drops\",\"dropped\":%llu}\n", total);
}

/* Flush stdout; a reader that went away (| head) ends the trace quietly. */
static int flush_out(void)
{
	int rc = fflush(stdout), e = errno;

	if (rc != EOF && !ferror(stdout))
		return 0;
	if (rc == EOF && e != EPIPE) {
		trace_err("writing the output: %s", strerror(e));
		return -e;
	}
	trace_exiting = 1;
	trace_epipe = 1;
	return 0;
}

static int stream_poll(struct trace *t)
{
	int n = ring_buffer__consume(t->rb);

	if (n < 0 && n != -EINTR) {
		trace_err("reading events: %s", strerror(-n));
		return n;
	}
	if (!trace_epipe)
		drops_report(t, false);
	n = flush_out();
	if (n)
		return n;
	if (!trace_exiting)
		trace_sleep_ms(TRACE_POLL_MS);
	return 0;
}

/* A last drain (the count is then final), a last drop report, the stderr
 * summary. Returns 0, or a negative errno if stdout failed. */
static int stream_finish(struct trace *t, const struct trace_stream *s)
{
	int err;

	if (trace_epipe || !t->rb)
		return 0;
	ring_buffer__consume(t->rb);
	drops_report(t, true);
	err = flush_out();
	if (err || trace_epipe)
		return err;
	fprintf(stderr, "httpdtrace: %llu %s, %llu dropped\n", s->count, s->what, trace_drops(t));
	return 0;
}

#define TICK_NS 1000000000ULL

int trace_stream_run(struct trace *t, struct trace_stream *s)
{
	unsigned long long d = trace_env.duration_us, now;
	unsigned long long deadline = d ? t->start_ns + d * 1000ULL : 0;
	unsigned long long next_tick = t->start_ns + TICK_NS;
	int err = trace_stream_open(t, s->fn, s->ctx);

	if (err)
		return err;
	if (trace_env.json && s->json_key)
		t->on_drops = trace_drops_json;
	if (s->begin)
		s->begin(s->ctx);
	while (!trace_exiting) {
		err = stream_poll(t);
		if (err)
			return err;
		now = trace_now_ns();
		if (deadline && now >= deadline)
			break;
		if (s->tick && now >= next_tick) {
			s->tick(s->ctx);
			next_tick = now + TICK_NS;
		}
	}
	err = stream_finish(t, s);
	if (err || trace_epipe)
		return err;
	if (s->end)
		s->end(s->ctx);
	if (trace_env.json && s->json_key)
		printf("{\"type\":\"summary\",\"%s\":%llu,\"dropped\":%llu}\n", s->json_key,
		       s->count, trace_drops(t));
	return flush_out();
}

/* ---------------------------------------------------------------------------
 * [interval] [count]
 * ------------------------------------------------------------------------- */
void trace_interval_arg(struct trace_interval *iv, struct argp_state *state, const char *arg)
{
	switch (iv->nargs++) {
	case 0:
		if (opt_interval_parse(arg, &iv->ms))
			argp_error(state, "invalid interval '%s': give seconds (1, 0.5) or a "
				   "duration (500ms)", arg);
		break;
	case 1:
		if (opt_count_parse(arg, &iv->count))
			argp_error(state, "invalid count '%s': give a number of reports (1 or more)",
				   arg);
		break;
	default:
		argp_error(state, "unexpected argument '%s' (after [interval] [count])", arg);
	}
}

/* Sleeps are cut in slices so a signal that lands just before nanosleep()
 * delays the exit by one slice at most. */
#define INTERVAL_SLICE_MS 100

int trace_interval_wait(struct trace_interval *iv)
{
	unsigned int slice = iv->tick ? TRACE_POLL_MS : INTERVAL_SLICE_MS;
	unsigned long long now;
	int err = flush_out();

	if (err)
		return err;
	if (trace_exiting || (iv->count && iv->reports >= iv->count))
		return 0;
	now = trace_now_ns();
	if (!iv->next_ns)
		iv->next_ns = now;
	iv->next_ns += iv->ms * 1000000ULL;
	while (!trace_exiting && (!iv->ms || now < iv->next_ns)) {
		unsigned long long left = iv->ms ? (iv->next_ns - now) / 1000000ULL + 1 : slice;

		if (iv->tick)
			iv->tick(iv->tick_ctx);
		trace_sleep_ms(left < slice ? (unsigned int)left : slice);
		now = trace_now_ns();
	}
	iv->reports++;
	return 1;
}

bool trace_interval_last(const struct trace_interval *iv)
{
	return trace_exiting || (iv->count && iv->reports >= iv->count);
}

/* Long enough for a BPF program that read the old generation to finish. */
#define GEN_SETTLE_NS 5000000L

unsigned int trace_gen_flip(unsigned int *gen)
{
	struct timespec settle = { 0, GEN_SETTLE_NS };
	unsigned int old = __atomic_load_n(gen, __ATOMIC_SEQ_CST) & 1;

	__atomic_store_n(gen, old ^ 1, __ATOMIC_SEQ_CST);
	nanosleep(&settle, NULL); /* not trace_sleep_ms: it returns at once on Ctrl-C */
	return old;
}

char *trace_time(const struct trace *t, char *buf, size_t len, unsigned long long mono_ns)
{
	if (trace_env.clock)
		return trace_wallclock(buf, len, mono_ns);
	return fmt_elapsed(buf, len, t->start_ns, mono_ns);
}
