/*
 * httpdtrace.h - the subcommands httpdtrace.c dispatches to. Each is
 * `int NAME_main(int argc, char **argv)` in src/NAME.c: argv[0] is
 * "httpdtrace NAME", the rest are its options; it returns the exit status.
 * Adding one: write src/NAME.c (+ NAME.bpf.c, NAME.h), declare NAME_main
 * here and add a row to the table in httpdtrace.c.
 */
#ifndef HTTPDTRACE_H
#define HTTPDTRACE_H

/* HTTPDTRACE_VERSION comes from the Makefile (debian/changelog's version). */

int requests_main(int argc, char **argv);
int list_main(int argc, char **argv);
int latency_main(int argc, char **argv);
int phases_main(int argc, char **argv);
int pools_main(int argc, char **argv);
int conns_main(int argc, char **argv);
int resources_main(int argc, char **argv);
int top_main(int argc, char **argv);
int exporter_main(int argc, char **argv);

#endif /* HTTPDTRACE_H */
