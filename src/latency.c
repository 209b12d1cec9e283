/*
 * latency.c - `httpdtrace latency`: the distribution of request latency as a
 * log2 histogram built in the kernel (one probe hit per request, on
 * httpd:::request-done; nothing crosses to user space but the histograms),
 * printed DTrace's quantize() way with percentiles under it. -K keeps one
 * histogram per status, method, vhost or handler; `[interval] [count]`
 * prints and resets the histograms every interval.
 *
 * Every filter runs in BPF (latency.bpf.c), since the requests are never
 * seen here: status, minimum latency, method, vhost and a uri substring (no
 * regex: BPF cannot run one).
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <linux/types.h>
#include "lib/filter.h"
#include "lib/fmt.h"
#include "lib/options.h"
#include "lib/hist.h"
#include "httpdtrace.h"
#include "latency.h"
#include "lib/request_filter.h"
#include "latency.skel.h"
#include "lib/stream.h"

#define KEY_SLACK 64

static const char *const key_names[] = {
	[LAT_KEY_NONE] = NULL, [LAT_KEY_STATUS] = "status", [LAT_KEY_METHOD] = "method",
	[LAT_KEY_VHOST] = "vhost", [LAT_KEY_HANDLER] = "handler",
};

static struct env {
	char uri[STR_NAME];
	enum lat_key_kind key;
	unsigned long long max_keys;
	bool ms;
	struct trace_interval iv;
} env = { .max_keys = LAT_MAX_KEYS };

/* One key's histogram of one report. */
struct entry {
	struct lat_key key;
	struct hist h;
};

const char latency_doc[] =
	"Show the distribution of request latency (httpd:::request-done) as a log2\n"
	"histogram built in the kernel, with percentiles.\n"
	"\n"
	"USAGE: httpdtrace latency [-K KEY] [--ms] [-s STATUS] [-l LATENCY] [-M METHOD]\n"
	"                          [-H VHOST] [-u SUBSTR] [-j] [-T] [--max-keys N]\n"
	"                          [-m PATH] [-p PID] [-v] [interval [count]]\n"
	"\n"
	"EXAMPLES:\n"
	"    httpdtrace latency               # one histogram, printed at Ctrl-C\n"
	"    httpdtrace latency 1 10          # every second, 10 times\n"
	"    httpdtrace latency -K status     # one histogram per status\n"
	"    httpdtrace latency -K vhost --ms # per virtual host, in milliseconds\n"
	"    httpdtrace latency -s 2xx -u /api/ 5  # successes under /api/, every 5 s\n"
	"    httpdtrace latency -T -j 1       # JSON, one object a second\n"
	"\n"
	"The interval is in seconds (1, 0.5) or a duration (500ms). Percentiles are\n"
	"computed from the histogram: each is the upper edge of the log2 bucket that\n"
	"holds it (at most 2x the true value, never above the max). Every filter runs\n"
	"in the kernel; -u is a plain substring of the uri (its first 255 bytes).";

enum { OPT_MS = 0x100, OPT_MAX_KEYS };

static const struct argp_option opts[] = {
	{ "key", 'K', "KEY", 0, "One histogram per status, method, vhost or handler", 0 },
	{ "ms", OPT_MS, NULL, 0, "Histogram of milliseconds (default: microseconds)", 0 },
	{ "milliseconds", 0, NULL, OPTION_ALIAS, NULL, 0 },
	{ "uri", 'u', "SUBSTR", 0, "Only uris containing SUBSTR (up to 63 bytes)", 0 },
	{ "max-keys", OPT_MAX_KEYS, "N", 0, "Keep at most N keys per report; the requests of "
					    "further keys count as (other) (default 1024)", 0 },
	{ 0 },
};

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'K':
		for (env.key = LAT_KEY_STATUS; env.key <= LAT_KEY_HANDLER; env.key++)
			if (!strcmp(arg, key_names[env.key]))
				return 0;
		argp_error(state, "invalid key '%s': give status, method, vhost or handler", arg);
		break;
	case OPT_MS:
		env.ms = true;
		break;
	case 'u':
		if (!arg[0] || strlen(arg) >= sizeof(env.uri))
			argp_error(state, "-u wants 1 to %zu bytes", sizeof(env.uri) - 1);
		strcpy(env.uri, arg);
		break;
	case OPT_MAX_KEYS:
		if (opt_count_parse(arg, &env.max_keys) || env.max_keys > 1 << 20)
			argp_error(state, "invalid --max-keys '%s': give 1 to %d", arg, 1 << 20);
		break;
	case ARGP_KEY_ARG:
		trace_interval_arg(&env.iv, state, arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Reading the maps
 * ------------------------------------------------------------------------- */
/* Sum the per-CPU copies of one histogram. */
static void hist_sum_cpus(struct hist *out, const struct hist *percpu, int ncpus)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < ncpus; i++)
		hist_merge(out, &percpu[i]);
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->key.status != y->key.status)
		return x->key.status < y->key.status ? -1 : 1;
	return strcmp(x->key.str, y->key.str);
}

/* Map fd's per-CPU histogram g summed over the CPUs into *sum (left as it
 * is if it cannot be read), then zeroed in the map. */
static void take_percpu(int fd, __u32 g, struct hist *percpu, int ncpus, struct hist *sum)
{
	if (bpf_map_lookup_elem(fd, &g, percpu))
		return;
	hist_sum_cpus(sum, percpu, ncpus);
	memset(percpu, 0, ncpus * sizeof(struct hist));
	bpf_map_update_elem(fd, &g, percpu, BPF_ANY);
}

/* Take generation g out of the maps: its histograms (sorted by key, into
 * *out, which the caller frees; returns how many or a negative errno) and
 * its (other) histogram, then delete and zero them for its next turn. */
static int take_generation(struct latency_bpf *skel, __u32 g, struct entry **out,
			   struct hist *other)
{
	int ncpus = libbpf_num_possible_cpus(), hfd = bpf_map__fd(skel->maps.hists);
	int ofd = bpf_map__fd(skel->maps.other), n = 0, cap = 0, err = 0;
	struct hist *percpu = calloc(ncpus > 0 ? ncpus : 1, sizeof(struct hist));
	struct lat_key key, next, *prev = NULL;
	struct entry *e = NULL;

	*out = NULL;
	if (!percpu || ncpus <= 0)
		return -ENOMEM;
	while (bpf_map_get_next_key(hfd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (key.gen != g)
			continue;
		if (n == cap) {
			struct entry *bigger = realloc(e, (cap = cap ? 2 * cap : 16) * sizeof(*e));

			if (!bigger) {
				err = -ENOMEM;
				goto out;
			}
			e = bigger;
		}
		if (bpf_map_lookup_elem(hfd, &key, percpu))
			continue;
		e[n].key = key;
		hist_sum_cpus(&e[n].h, percpu, ncpus);
		n++;
	}
	for (int i = 0; i < n; i++)
		bpf_map_delete_elem(hfd, &e[i].key);
	/* without -K the histogram is single[g], as the key {g} would be */
	if (env.key == LAT_KEY_NONE && !n) {
		struct hist h = { { 0 }, 0, 0, 0 };

		take_percpu(bpf_map__fd(skel->maps.single), g, percpu, ncpus, &h);
		if (h.count) {
			e = malloc(sizeof(*e));
			if (!e) {
				err = -ENOMEM;
				goto out;
			}
			memset(&e[0].key, 0, sizeof(e[0].key));
			e[0].key.gen = g;
			e[0].h = h;
			n = 1;
		}
	}
	take_percpu(ofd, g, percpu, ncpus, other);
	skel->bss->nkeys[g] = 0;
	qsort(e, n, sizeof(*e), cmp_entry);
out:
	free(percpu);
	if (err) {
		free(e);
		return err;
	}
	*out = e;
	return n;
}

/* ---------------------------------------------------------------------------
 * Reports
 * ------------------------------------------------------------------------- */
static const char *unit_word(void)
{
	return env.ms ? "milliseconds" : "microseconds";
}

static void print_text(const struct entry *e, int n, const struct hist *other,
		       unsigned long long now_ns)
{
	char when[32], key[FMT_ESC_SIZE(STR_NAME)];

	if (trace_env.clock)
		printf("%s\n", trace_wallclock(when, sizeof(when), now_ns));
	if (env.key == LAT_KEY_NONE) {
		struct hist empty = { { 0 }, 0, 0, 0 };
		const struct hist *h = n ? &e[0].h : &empty;

		hist_print(stdout, h, unit_word());
		hist_print_stats(stdout, h);
		printf("\n");
		return;
	}
	if (!n && !other->count)
		printf("(no requests)\n");
	for (int i = 0; i < n; i++) {
		if (env.key == LAT_KEY_STATUS)
			printf("%s = %d\n", key_names[env.key], e[i].key.status);
		else
			printf("%s = %s\n", key_names[env.key], e[i].key.str[0] ?
			       fmt_esc(key, sizeof(key), e[i].key.str) : "(none)");
		hist_print(stdout, &e[i].h, unit_word());
		hist_print_stats(stdout, &e[i].h);
		printf("\n");
	}
	if (other->count) {
		printf("%s = (other: past --max-keys %llu)\n", key_names[env.key], env.max_keys);
		hist_print(stdout, other, unit_word());
		hist_print_stats(stdout, other);
		printf("\n");
	}
}

static void print_json(const struct entry *e, int n, const struct hist *other,
		       unsigned long long start_ns, unsigned long long now_ns)
{
	char when[32];

	fmt_elapsed(when, sizeof(when), start_ns, now_ns);
	printf("{\"type\":\"latency\",\"time\":%s,\"report\":%llu,\"unit\":\"%s\",\"key\":", when,
	       env.iv.reports, env.ms ? "ms" : "us");
	if (env.key == LAT_KEY_NONE)
		printf("null");
	else
		printf("\"%s\"", key_names[env.key]);
	printf(",\"histograms\":[");
	for (int i = 0; i < n; i++) {
		printf("%s{\"key\":", i ? "," : "");
		if (env.key == LAT_KEY_NONE)
			printf("null");
		else if (env.key == LAT_KEY_STATUS)
			printf("%d", e[i].key.status);
		else
			fmt_json_str(stdout, e[i].key.str);
		printf(",");
		hist_json(stdout, &e[i].h);
		printf("}");
	}
	printf("],\"other\":");
	if (other->count) {
		printf("{");
		hist_json(stdout, other);
		printf("}");
	} else {
		printf("null");
	}
	printf(",\"overflow\":%llu}\n", other->count);
}

/* One report: flip the generation, print the old one. */
static int report(struct latency_bpf *skel, unsigned long long start_ns)
{
	struct hist other = { { 0 }, 0, 0, 0 };
	__u32 g = trace_gen_flip(&skel->bss->gen);
	struct entry *e;
	unsigned long long now_ns;
	int n;

	n = take_generation(skel, g, &e, &other);
	if (n < 0) {
		trace_err("reading the histograms: %s", strerror(-n));
		return n;
	}
	now_ns = trace_now_ns();
	if (trace_env.json)
		print_json(e, n, &other, start_ns, now_ns);
	else
		print_text(e, n, &other, now_ns);
	if (other.count)
		trace_warn("%llu requests past --max-keys %llu distinct keys, shown as (other)",
			   other.count, env.max_keys);
	free(e);
	return 0;
}

int latency_main(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &trace_output_argp, 0, "Output:", 0 },
		{ &trace_argp, 0, "Common options:", 0 },
		{ &trace_filter_argp, 0, "Filters (in the kernel):", 0 },
		{ 0 },
	};
	static const struct argp argp = { opts, parse_arg, "[interval [count]]", latency_doc,
					  children, NULL, NULL };
	struct latency_bpf *skel = NULL;
	struct trace t = { .drops_fd = -1 };
	int err;

	err = TRACE_OPEN(&t, &argp, argc, argv, skel, latency);
	if (err)
		goto cleanup;
	memcpy((char *)skel->rodata->filt_uri, env.uri, sizeof(env.uri));
	skel->rodata->filt_uri_len = (__u32)strlen(env.uri);
	skel->rodata->key_kind = env.key;
	skel->rodata->in_ms = env.ms;
	skel->rodata->max_keys = env.max_keys;
	/* both generations at their limit, and twins racing past it */
	err = bpf_map__set_max_entries(skel->maps.hists, (__u32)(2 * env.max_keys + KEY_SLACK));
	if (err) {
		trace_err("cannot size the histogram map: %s", strerror(-err));
		goto cleanup;
	}
	TRACE_FILTER_SET(skel);
	err = trace_start(&t, skel->skeleton);
	if (err)
		goto cleanup;

	while ((err = trace_interval_wait(&env.iv)) > 0) {
		err = report(skel, t.start_ns);
		if (err)
			break;
	}

cleanup:
	trace_close(&t);
	latency_bpf__destroy(skel);
	return trace_exit_status(err);
}
