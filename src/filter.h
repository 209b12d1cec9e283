/*
 * filter.h - parsing of the filter options every subcommand shares
 * (durations, status codes, methods, uris) and their user-space matches.
 * Pure helpers: tests/unit covers them.
 *
 * Where a filter runs: status, minimum latency, method and vhost are
 * fixed-size compares that the BPF programs do before an event is copied out
 * (knobs in common.bpf.h's callers); the uri filter (substring or POSIX
 * extended regex) runs here in user space because a regex cannot run in BPF.
 */
#ifndef FILTER_H
#define FILTER_H

#include <regex.h>
#include <stdbool.h>

/* A status filter: lo <= status <= hi. {0, 0} matches everything. */
struct filter_status {
	int lo, hi;
};

/* Parse "404", "5xx" (500-599), or "400-499". Returns 0, or -1 if s is none
 * of those or outside 100-999. */
int filter_status_parse(const char *s, struct filter_status *f);

bool filter_status_match(const struct filter_status *f, int status);

/* Parse a duration with a unit: "500us", "100ms", "2s", "1.5s", "1m" (also
 * "ns"); into microseconds (rounded down). A bare number is an error (which
 * unit was meant?). Returns 0 or -1. */
int filter_duration_parse(const char *s, unsigned long long *us);

/* The `interval` positional argument of the aggregating subcommands: seconds
 * as libbpf-tools take them ("1", also "0.5"), or a duration with a unit
 * ("500ms", "2s"); into milliseconds, at least 1 and at most a day. Returns
 * 0 or -1. */
int filter_interval_parse(const char *s, unsigned long long *ms);

/* A positive decimal count ("3", at most 2^31-1). Returns 0 or -1. */
int filter_count_parse(const char *s, unsigned long long *n);

/* Copy an HTTP method into buf upper-cased ("get" -> "GET"). Returns 0, or -1
 * if it is empty, has a character that is not a letter, '-' or '_', or does
 * not fit in len - 1 bytes. */
int filter_method_parse(const char *s, char *buf, unsigned int len);

/* A uri filter: a substring, or a POSIX extended regex. */
struct filter_uri {
	const char *substr; /* NULL: no substring filter */
	bool has_regex;
	regex_t regex;
};

/* Compile `re` into f (f->has_regex). Returns 0, or -1 with a message from
 * regerror() in err. */
int filter_uri_regex(struct filter_uri *f, const char *re, char *err, unsigned int errlen);

bool filter_uri_match(const struct filter_uri *f, const char *uri);

void filter_uri_free(struct filter_uri *f);

#endif /* FILTER_H */
