/*
 * filter.h - the filters subcommands share (status codes, methods, uris):
 * parsing, and the matches that run in user space. Pure helpers: tests/unit
 * covers them.
 *
 * Where a filter runs: status, minimum latency, method and vhost are
 * fixed-size compares that the BPF programs do before an event is copied out
 * (request_filter.bpf.h); the uri filter (substring or POSIX extended regex)
 * runs here in user space because a regex cannot run in BPF.
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
