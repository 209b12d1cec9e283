/*
 * options.h - parsing of the values httpdtrace's options and positional
 * arguments take: durations (-d, -l), intervals and counts ([interval]
 * [count]). Pure helpers: tests/unit covers them.
 */
#ifndef OPTIONS_H
#define OPTIONS_H

/* Parse a duration with a unit: "500us", "100ms", "2s", "1.5s", "1m" (also
 * "ns"); into microseconds (rounded down). A bare number is an error (which
 * unit was meant?). Returns 0 or -1. */
int opt_duration_parse(const char *s, unsigned long long *us);

/* The `interval` positional argument of the aggregating subcommands: seconds
 * as libbpf-tools take them ("1", also "0.5"), or a duration with a unit
 * ("500ms", "2s"); into milliseconds, at least 1 and at most a day. Returns
 * 0 or -1. */
int opt_interval_parse(const char *s, unsigned long long *ms);

/* A positive decimal count ("3", at most 2^31-1). Returns 0 or -1. */
int opt_count_parse(const char *s, unsigned long long *n);

#endif /* OPTIONS_H */
