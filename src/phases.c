/*
 * phases.c - `httpdtrace phases`: where requests spend their time inside
 * Apache, phase by phase (httpd:::request-phase; docs/probes.md has the
 * phases and the rule that bounds them).
 *
 * Two modes. By default the BPF side (phases.bpf.c) keeps one log2 histogram
 * per phase, in microseconds, and this file prints, at Ctrl-C or every
 * [interval], a table of count, mean and percentiles per phase followed by
 * the histograms. With -s THRESHOLD it instead prints one line per request
 * at least that slow (request line read to request over), with the time of
 * each of its phases: the breakdown of every slow request as it finishes.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <linux/types.h>
#include "lib/filter.h"
#include "lib/fmt.h"
#include "lib/options.h"
#include "lib/hist.h"
#include "httpdtrace.h"
#include "mod_dtprovider.h"
#include "phases.h"
#include "phases.skel.h"
#include "lib/stream.h"

static struct env {
	bool slow;                  /* -s: per-request lines, no histograms */
	unsigned long long slow_us; /* its threshold */
	bool no_hist;
} env;

static struct trace_interval iv;

static const char *const phase_names[PHASES_N] = PHASES_NAMES;

const char phases_doc[] =
	"Time each processing phase of Apache's requests (httpd:::request-phase).\n"
	"\n"
	"USAGE: httpdtrace phases [-s THRESHOLD] [-n] [-j] [-m PATH] [-p PID] [-v]\n"
	"                         [interval] [count]\n"
	"\n"
	"EXAMPLES:\n"
	"    httpdtrace phases              # per-phase percentiles and histograms at Ctrl-C\n"
	"    httpdtrace phases 10 6         # a report every 10 s, 6 times\n"
	"    httpdtrace phases -n           # the table only, no histograms\n"
	"    httpdtrace phases -s 100ms     # each request slower than 100 ms, by phase\n"
	"    httpdtrace phases -s 0 -j      # every request's phases as JSON lines\n"
	"\n"
	"Phases: read (request line and headers), translate (uri to file: alias,\n"
	"rewrite, directory walk), access (access control, authentication,\n"
	"authorization), type (type checking, fixups), handler (making and writing\n"
	"the response), log. Times are microseconds; a phase a request ran twice (an\n"
	"ErrorDocument's internal redirect) counts once with both runs added. Only\n"
	"requests read after tracing began are counted. The access, type and handler\n"
	"phases need `DTraceProviderPhases On` in Apache's configuration.";

static const struct argp_option opts[] = {
	{ "slow", 's', "THRESHOLD", 0, "One line per request at least this slow (500us, "
				       "100ms, 2s; 0: every request) instead of histograms", 0 },
	{ "no-hist", 'n', NULL, 0, "The percentile table only", 0 },
	{ 0 },
};

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 's':
		env.slow = true;
		if (strcmp(arg, "0") && opt_duration_parse(arg, &env.slow_us))
			argp_error(state, "invalid threshold '%s': give a positive number and a "
				   "unit, as in 500us, 100ms, 2s", arg);
		break;
	case 'n':
		env.no_hist = true;
		break;
	case ARGP_KEY_ARG:
		trace_interval_arg(&iv, state, arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * -s: one line per slow request
 * ------------------------------------------------------------------------- */
static void print_slow_header(void *ctx)
{
	(void)ctx;
	if (trace_env.json)
		return;
	printf("%-8s %8s %3s %6s %6s %6s %6s %8s %6s %s\n", "ID", "TOTAL", "STA", "READ",
	       "XLATE", "ACCESS", "TYPE", "HANDLER", "LOG", "URI");
}

/* A phase's microseconds, or "-" for a phase the request did not run. */
static const char *phase_us(char *buf, size_t len, const struct phases_event *e, int p)
{
	if (e->ran & (1U << p))
		snprintf(buf, len, "%llu", (unsigned long long)e->ns[p] / 1000);
	else
		snprintf(buf, len, "-");
	return buf;
}

static void print_slow(const struct phases_event *e)
{
	char b[PHASES_N][24], uri[FMT_ESC_SIZE(STR_URI)];

	for (int p = 0; p < PHASES_N; p++)
		phase_us(b[p], sizeof(b[p]), e, p);
	printf("%-8llu %8llu %3d %6s %6s %6s %6s %8s %6s %s\n", (unsigned long long)e->id,
	       (unsigned long long)e->total_ns / 1000, e->status, b[0], b[1], b[2], b[3], b[4],
	       b[5], fmt_esc(uri, sizeof(uri), e->uri));
}

static void print_slow_json(const struct phases_event *e)
{
	printf("{\"type\":\"request\",\"id\":%llu,\"pid\":%u,\"tid\":%u,\"status\":%d,"
	       "\"total_us\":%llu,\"uri\":",
	       (unsigned long long)e->id, e->pid, e->tid, e->status,
	       (unsigned long long)e->total_ns / 1000);
	fmt_json_str(stdout, e->uri);
	printf(",\"phases_us\":{");
	for (int p = 0, n = 0; p < PHASES_N; p++) {
		if (!(e->ran & (1U << p)))
			continue;
		printf("%s\"%s\":%llu", n++ ? "," : "", phase_names[p],
		       (unsigned long long)e->ns[p] / 1000);
	}
	printf("}}\n");
}

/* Requests seen with an access, type or handler phase, and without any. */
static unsigned long long with_hooks, without_hooks;

/* Those three phases come from hooks the module registers only with
 * DTraceProviderPhases On: requests that had none of them, and no request
 * that had one, mean the directive is off. Said once, on stderr. */
static void phases_hint(void)
{
	static bool said;

	if (said || with_hooks || !without_hooks)
		return;
	said = true;
	trace_warn("no access, type or handler phase seen: the module registers those hooks "
		   "only with `DTraceProviderPhases On` (after its LoadModule line; Debian: "
		   "mods-available/dtprovider.conf), then apachectl graceful; until then "
		   "translate lasts through the handler");
}

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct phases_event *e = data;
	struct trace_stream *s = ctx;

	if (size < sizeof(*e))
		return 0;
	s->count++;
	if (e->ns[HTTPD_PHASE_ACCESS] || e->ns[HTTPD_PHASE_TYPE] || e->ns[HTTPD_PHASE_HANDLER])
		with_hooks++;
	else
		without_hooks++;
	if (trace_env.json)
		print_slow_json(e);
	else
		print_slow(e);
	return 0;
}

/* ---------------------------------------------------------------------------
 * Default: percentiles and histograms per phase
 * ------------------------------------------------------------------------- */

/* Take the histograms filled since the last report: flip the generation the
 * BPF side fills (trace_gen_flip waits for programs still on the old one),
 * then read and zero it. */
static int take_hists(struct phases_bpf *skel, struct hist *h)
{
	static const struct hist zero;
	int fd = bpf_map__fd(skel->maps.hists);
	__u32 g = trace_gen_flip(&skel->bss->gen);

	for (__u32 p = 0; p < PHASES_N; p++) {
		__u32 i = g * PHASES_N + p;

		if (bpf_map_lookup_elem(fd, &i, &h[p]) || bpf_map_update_elem(fd, &i, &zero, 0)) {
			int err = -errno;

			trace_err("cannot read the histograms: %s", strerror(-err));
			return err;
		}
	}
	return 0;
}

static void print_report(const struct hist *h)
{
	char title[64];

	if (trace_env.json) {
		for (int p = 0; p < PHASES_N; p++)
			printf("{\"type\":\"phase\",\"phase\":\"%s\",\"count\":%llu,"
			       "\"sum_us\":%llu,\"p50_us\":%llu,\"p90_us\":%llu,\"p99_us\":%llu,"
			       "\"max_us\":%llu}\n", phase_names[p], h[p].count, h[p].sum,
			       hist_percentile(&h[p], 50), hist_percentile(&h[p], 90),
			       hist_percentile(&h[p], 99), h[p].max);
		return;
	}
	printf("%-10s %8s %9s %9s %9s %9s %9s\n", "PHASE", "COUNT", "AVG(us)", "P50", "P90",
	       "P99", "MAX");
	for (int p = 0; p < PHASES_N; p++)
		printf("%-10s %8llu %9llu %9llu %9llu %9llu %9llu\n", phase_names[p], h[p].count,
		       h[p].count ? h[p].sum / h[p].count : 0, hist_percentile(&h[p], 50),
		       hist_percentile(&h[p], 90), hist_percentile(&h[p], 99), h[p].max);
	if (env.no_hist)
		return;
	for (int p = 0; p < PHASES_N; p++) {
		if (!h[p].count)
			continue;
		snprintf(title, sizeof(title), "%s (microseconds)", phase_names[p]);
		printf("\n");
		hist_print(stdout, &h[p], title);
	}
}

int phases_main(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &trace_json_argp, 0, "Output:", 0 },
		{ &trace_argp, 0, "Common options:", 0 },
		{ 0 },
	};
	static const struct argp argp = { opts, parse_arg, "[interval] [count]", phases_doc,
					  children, NULL, NULL };
	struct trace_stream s = { .fn = handle_event, .begin = print_slow_header,
				  .what = "slow requests" };
	struct phases_bpf *skel = NULL;
	struct trace t;
	struct hist h[PHASES_N];
	int err;

	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return 2;
	if (env.slow && iv.nargs) {
		fprintf(stderr, "httpdtrace phases: -s prints requests as they finish: no "
				"[interval] [count]\n");
		return 2;
	}
	err = trace_init(&t);
	if (err)
		goto cleanup;
	skel = phases_bpf__open();
	err = trace_opened(skel);
	if (err)
		goto cleanup;
	skel->rodata->slow = env.slow;
	skel->rodata->slow_ns = env.slow_us * 1000ULL;
	err = trace_start(&t, skel->skeleton);
	if (err)
		goto cleanup;

	if (env.slow) {
		s.ctx = &s;
		err = trace_stream_run(&t, &s);
		phases_hint();
		goto cleanup;
	}
	while ((err = trace_interval_wait(&iv)) > 0) {
		err = take_hists(skel, h);
		if (err)
			break;
		with_hooks += h[HTTPD_PHASE_ACCESS].count + h[HTTPD_PHASE_TYPE].count +
			      h[HTTPD_PHASE_HANDLER].count;
		without_hooks += h[HTTPD_PHASE_TRANSLATE].count;
		print_report(h);
		phases_hint();
		if (!trace_interval_last(&iv) && !trace_env.json)
			printf("\n");
	}

cleanup:
	trace_close(&t);
	phases_bpf__destroy(skel);
	return trace_exit_status(err);
}
