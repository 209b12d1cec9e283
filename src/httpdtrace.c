/*
 * httpdtrace.c - one command, many subcommands: `httpdtrace <cmd> [options]`.
 * This file only dispatches, through the table in httpdtrace.h; each
 * subcommand lives in src/<cmd>.c or src/<cmd>/, and the plumbing they share
 * in src/lib/ (lib/trace.h maps the life cycle every subcommand follows).
 */
#define _GNU_SOURCE /* program_invocation_name */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "httpdtrace.h"

#define SUBCOMMAND_ROW(name, summary) { #name, summary, name##_main },

static const struct subcommand {
	const char *name;
	const char *summary;
	int (*main)(int argc, char **argv);
} subcommands[] = { HTTPDTRACE_SUBCOMMANDS(SUBCOMMAND_ROW) };

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
