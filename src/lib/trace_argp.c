/*
 * trace_argp.c - the options every subcommand shares, as argp children
 * (trace.h lists them): -m -p -v, -b, -j -T, -d, and the request filters
 * -s -l -M -H.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "options.h"
#include "stream.h"

struct trace_env trace_env;
struct request_filter trace_filters;

/* ---------------------------------------------------------------------------
 * Shared options: argp children every subcommand lists
 * ------------------------------------------------------------------------- */
static const struct argp_option common_options[] = {
	{ "module", 'm', "PATH", 0,
	  "The mod_dtprovider.so to trace (default: the one running servers map, "
	  "else " TRACE_INSTALLED_MODULE ")", 0 },
	{ "pid", 'p', "PID", 0,
	  "Only this process: Apache's parent pid selects all its children, "
	  "a child's pid that child only", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's own messages", 0 },
	/* "-1" as an argument reaches argp as option '1': these hidden keys
	 * let it say what is wrong instead of "invalid option -- '1'". */
	{ NULL, '0', NULL, OPTION_HIDDEN, NULL, 0 }, { NULL, '1', NULL, OPTION_HIDDEN, NULL, 0 },
	{ NULL, '2', NULL, OPTION_HIDDEN, NULL, 0 }, { NULL, '3', NULL, OPTION_HIDDEN, NULL, 0 },
	{ NULL, '4', NULL, OPTION_HIDDEN, NULL, 0 }, { NULL, '5', NULL, OPTION_HIDDEN, NULL, 0 },
	{ NULL, '6', NULL, OPTION_HIDDEN, NULL, 0 }, { NULL, '7', NULL, OPTION_HIDDEN, NULL, 0 },
	{ NULL, '8', NULL, OPTION_HIDDEN, NULL, 0 }, { NULL, '9', NULL, OPTION_HIDDEN, NULL, 0 },
	{ 0 },
};

static long parse_positive(const char *arg, struct argp_state *state, const char *what, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || *end || end == arg || v <= 0 || v > max)
		argp_error(state, "invalid %s '%s': give a whole number from 1 to %ld", what, arg,
			   max);
	return v;
}

static error_t common_parse(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'm':
		trace_env.module = arg;
		break;
	case 'p':
		trace_env.pid = (pid_t)parse_positive(arg, state, "pid", 0x7fffffff);
		break;
	case 'v':
		trace_env.verbose = true;
		break;
	case '0' ... '9':
		argp_error(state, "a negative number is not an argument: an interval and a count "
			   "are positive (1, 0.5, 500ms), options are letters");
		break;
	case ARGP_KEY_ARG: /* a subcommand that takes arguments parses them first */
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp trace_argp = { common_options, common_parse, NULL, NULL, NULL, NULL, NULL };

static const struct argp_option stream_options[] = {
	{ "buffer-pages", 'b', "PAGES", 0,
	  "Ring buffer size in pages, a power of 2 (default 1024: 4 MiB; at most 2 GiB)", 0 },
	{ 0 },
};

static error_t stream_parse(int key, char *arg, struct argp_state *state)
{
	long v;

	if (key != 'b')
		return ARGP_ERR_UNKNOWN;
	/* The kernel sizes a ring buffer in bytes, in 32 bits, a power of 2:
	 * 2 GiB at most. */
	v = parse_positive(arg, state, "page count for -b", (1L << 31) / getpagesize());
	if (v & (v - 1))
		argp_error(state, "-b wants a power of 2, not %s", arg);
	trace_env.buffer_pages = (int)v;
	return 0;
}

const struct argp trace_stream_argp = { stream_options, stream_parse, NULL, NULL, NULL, NULL,
					NULL };

static const struct argp_option output_options[] = {
	{ "json", 'j', NULL, 0, "JSON output, one object per line", 0 },
	{ "timestamp", 'T', NULL, 0, "Wall-clock times, HH:MM:SS.mmm", 0 },
	{ 0 },
};

static error_t output_parse(int key, char *arg, struct argp_state *state)
{
	(void)arg;
	(void)state;
	switch (key) {
	case 'j':
		trace_env.json = true;
		break;
	case 'T':
		trace_env.clock = true;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp trace_output_argp = { output_options, output_parse, NULL, NULL, NULL, NULL,
					NULL };
/* The same parser, offering -j alone (output_options[0]). */
static const struct argp_option json_options[] = { output_options[0], { 0 } };
const struct argp trace_json_argp = { json_options, output_parse, NULL, NULL, NULL, NULL, NULL };

static const struct argp_option duration_options[] = {
	{ "duration", 'd', "DURATION", 0, "Stop after DURATION (10s, 1m)", 0 },
	{ 0 },
};

static error_t duration_parse(int key, char *arg, struct argp_state *state)
{
	if (key != 'd')
		return ARGP_ERR_UNKNOWN;
	if (opt_duration_parse(arg, &trace_env.duration_us) || !trace_env.duration_us)
		argp_error(state, "invalid duration '%s': give a positive number and a unit, as "
			   "in 10s, 1m", arg);
	return 0;
}

const struct argp trace_duration_argp = { duration_options, duration_parse, NULL, NULL, NULL,
					  NULL, NULL };

static const struct argp_option filter_options[] = {
	{ "status", 's', "STATUS", 0, "Only this status: 404, 5xx or 400-499", 0 },
	{ "latency", 'l', "LATENCY", 0, "Only requests at least this slow: 500us, 100ms, 2s", 0 },
	{ "method", 'M', "METHOD", 0, "Only this method (GET, POST...)", 0 },
	{ "vhost", 'H', "VHOST", 0, "Only this virtual host (its ServerName)", 0 },
	{ 0 },
};

static error_t filter_parse(int key, char *arg, struct argp_state *state)
{
	struct request_filter *f = &trace_filters;
	struct filter_status status;

	switch (key) {
	case 's':
		if (filter_status_parse(arg, &status))
			argp_error(state, "invalid status '%s': give 404, 5xx or 400-499", arg);
		f->status_lo = status.lo;
		f->status_hi = status.hi;
		break;
	case 'l':
		if (opt_duration_parse(arg, &f->min_latency_us))
			argp_error(state, "invalid latency '%s': give a positive number and a "
				   "unit, as in 500us, 100ms, 2s",
				   arg);
		break;
	case 'M':
		if (filter_method_parse(arg, f->method, sizeof(f->method)))
			argp_error(state, "invalid method '%s'", arg);
		break;
	case 'H':
		if (strlen(arg) >= sizeof(f->vhost))
			argp_error(state, "vhost longer than %zu bytes", sizeof(f->vhost) - 1);
		strcpy(f->vhost, arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp trace_filter_argp = { filter_options, filter_parse, NULL, NULL, NULL, NULL,
					NULL };
