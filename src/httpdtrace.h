/*
 * httpdtrace.h - the one table of httpdtrace's subcommands.
 *
 * Each row is SUBCOMMAND(name, summary): `httpdtrace name` runs
 * `int name_main(int argc, char **argv)` (argv[0] is "httpdtrace name", the
 * rest are its options; it returns the exit status), and `httpdtrace --help`
 * lists the summary, in this order. httpdtrace.c expands the table twice:
 * once to declare the mains, once to build the dispatch array.
 *
 * Adding a subcommand: write src/NAME.c (+ NAME.bpf.c, NAME.h), or a folder
 * src/NAME/ holding NAME.c and its parts, then add its row here. The
 * Makefile finds every .c and .bpf.c under src/ by itself.
 *
 * HTTPDTRACE_VERSION comes from the Makefile (debian/changelog's version).
 */
#ifndef HTTPDTRACE_H
#define HTTPDTRACE_H

#define HTTPDTRACE_SUBCOMMANDS(SUBCOMMAND)                                                      \
	SUBCOMMAND(requests, "one line per finished request (latency, status, addresses, uri)")   \
	SUBCOMMAND(latency, "request latency as a log2 histogram built in the kernel, percentiles") \
	SUBCOMMAND(conns, "one line per closed connection (addresses, requests, bytes), or -S rates") \
	SUBCOMMAND(top, "live apachetop: rates, latency percentiles, in-flight requests")        \
	SUBCOMMAND(list, "running Apache servers with mod_dtprovider, their probes and state")   \
	SUBCOMMAND(phases, "time in each phase of a request (percentiles, or slow requests)")    \
	SUBCOMMAND(pools, "apr_palloc and malloc calls and bytes per request and per uri")       \
	SUBCOMMAND(resources, "CPU, off-CPU, syscalls, socket bytes, page faults per request and uri") \
	SUBCOMMAND(exporter, "request and connection metrics for Prometheus, aggregated in the kernel")

#define HTTPDTRACE_DECLARE_MAIN(name, summary) int name##_main(int argc, char **argv);
HTTPDTRACE_SUBCOMMANDS(HTTPDTRACE_DECLARE_MAIN)
#undef HTTPDTRACE_DECLARE_MAIN

#endif /* HTTPDTRACE_H */
