/*
 * httpdtrace.c - one command, many subcommands: `httpdtrace <cmd> [options]`.
 * This file only dispatches; each subcommand lives in src/<cmd>.c and the
 * plumbing they share in trace.c (see trace.h).
 */
#define _GNU_SOURCE /* program_invocation_name */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "httpdtrace.h"

static const struct subcommand {
	const char *name;
	const char *summary;
	int (*main)(int argc, char **argv);
} subcommands[] = {
	{ "requests", "one line per finished request (latency, status, addresses, uri)",
	  requests_main },
	{ "latency", "request latency as a log2 histogram built in the kernel, percentiles",
	  latency_main },
	{ "conns", "one line per closed connection (addresses, requests, bytes), or -S rates",
	  conns_main },
	{ "top", "live apachetop: rates, latency percentiles, in-flight requests",
	  top_main },
	{ "list", "running Apache servers with mod_dtprovider, their probes and state",
	  list_main },
	{ "phases", "time in each phase of a request (percentiles, or slow requests)",
	  phases_main },
	{ "pools", "apr_palloc and malloc calls and bytes per request and per uri",
	  pools_main },
	{ "resources", "CPU, off-CPU, syscalls, socket bytes, page faults per request and uri",
	  resources_main },
	{ "exporter", "request and connection metrics for Prometheus, aggregated in the kernel",
	  exporter_main },
};

#define NSUB (sizeof(subcommands) / sizeof(subcommands[0]))

static void usage(FILE *f)
{
	fprintf(f, "Usage: httpdtrace COMMAND [OPTION...]\n"
		   "Trace Apache httpd through mod_dtprovider's httpd probes.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < NSUB; i++)
		fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(f, "\n'httpdtrace COMMAND --help' shows a command's options and examples.\n"
		   "Tracing needs root (or CAP_BPF and CAP_PERFMON). See httpdtrace(8).\n");
}

int main(int argc, char **argv)
{
	static char name[64];

	argp_err_exit_status = 2;
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("httpdtrace %s\n", HTTPDTRACE_VERSION);
		return 0;
	}
	for (size_t i = 0; i < NSUB; i++) {
		if (strcmp(argv[1], subcommands[i].name))
			continue;
		/* argp names the program after argv[0] in usage and errors */
		snprintf(name, sizeof(name), "httpdtrace %s", subcommands[i].name);
		program_invocation_name = program_invocation_short_name = name;
		argv[1] = name;
		return subcommands[i].main(argc - 1, argv + 1);
	}
	fprintf(stderr, "httpdtrace: unknown command '%s'; 'httpdtrace --help' lists them\n",
		argv[1]);
	return 2;
}
