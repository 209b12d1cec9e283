/*
 * fmt.h - output formatting shared by the subcommands: addresses, times,
 * JSON strings. Pure functions (no BPF, no globals) so tests/unit reaches
 * them.
 */
#ifndef FMT_H
#define FMT_H

#include <stddef.h>
#include <stdio.h>

/* "ip:port", or "[ip]:port" when ip is IPv6 (has a ':'); "-" for port 0 and
 * an empty ip. Truncates to fit len (always NUL-terminated). Returns buf. */
char *fmt_addr(char *buf, size_t len, const char *ip, unsigned int port);

/* Wall-clock time of `epoch_us` (µs since the epoch) as "HH:MM:SS.mmm" in
 * local time (len >= 13). Returns buf. */
char *fmt_clock(char *buf, size_t len, unsigned long long epoch_us);

/* Seconds since `start_ns` at `now_ns` (both CLOCK_MONOTONIC) as "%.3f", the
 * seed's TIME column. Returns buf. */
char *fmt_elapsed(char *buf, size_t len, unsigned long long start_ns,
		  unsigned long long now_ns);

/* s, or "-" when it is empty (a column that must not be blank). */
const char *fmt_or_dash(const char *s);

/* Write s as a JSON string, quotes included. Control characters, '"' and
 * '\\' are escaped; valid UTF-8 passes through; a byte that is not part of
 * valid UTF-8 (a raw byte a client sent) becomes \u00XX so the line stays
 * valid JSON. */
void fmt_json_str(FILE *f, const char *s);

/* s made safe for a terminal, as Apache's access log writes what clients
 * send: a control byte (0x00-0x1f, 0x7f) or a byte >= 0x80 becomes "\xNN"
 * and a backslash "\\", so no client can move the cursor, change colours or
 * retitle the window of whoever reads the output, and every byte it sent
 * can still be told. Truncates at a whole escape to fit len (always
 * NUL-terminated); FMT_ESC_SIZE(n) fits any string of a char[n]. Returns
 * buf. */
#define FMT_ESC_SIZE(n) (4 * (n) + 1)
char *fmt_esc(char *buf, size_t len, const char *s);

/* The first n path segments of uri, then "/..." when there were more:
 * "/a/b/c" with n = 2 is "/a/b/..."; "/a/b/" and "/a/b" stay whole; n = 0 keeps
 * every uri whole. Truncates to fit len. Returns buf. */
char *fmt_uri_prefix(char *buf, size_t len, const char *uri, unsigned int n);

/* A latency in microseconds, 3 significant digits at most: "734us",
 * "12.3ms", "1.50s", "125s". Returns buf. */
char *fmt_usec(char *buf, size_t len, unsigned long long us);

/* A count or rate with a 1000-based suffix: "999", "12.3K", "4.56M",
 * "7.89G"; below 100 without a suffix, one decimal ("12.5"). Returns buf. */
char *fmt_si(char *buf, size_t len, double v);

#endif /* FMT_H */
