/*
 * fmt.c - formatting helpers for httpdtrace's human and JSON output (see
 * fmt.h for each contract).
 */
#include <string.h>
#include <time.h>
#include "fmt.h"

char *fmt_addr(char *buf, size_t len, const char *ip, unsigned int port)
{
	if (!ip[0] && !port)
		snprintf(buf, len, "-");
	else if (strchr(ip, ':'))
		snprintf(buf, len, "[%s]:%u", ip, port);
	else
		snprintf(buf, len, "%s:%u", ip, port);
	return buf;
}

char *fmt_clock(char *buf, size_t len, unsigned long long epoch_us)
{
	time_t sec = (time_t)(epoch_us / 1000000);
	struct tm tm;
	char hms[16];

	localtime_r(&sec, &tm);
	strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03llu", hms, epoch_us / 1000 % 1000);
	return buf;
}

char *fmt_elapsed(char *buf, size_t len, unsigned long long start_ns,
		  unsigned long long now_ns)
{
	unsigned long long d = now_ns > start_ns ? now_ns - start_ns : 0;

	snprintf(buf, len, "%llu.%03llu", d / 1000000000ULL, d / 1000000ULL % 1000);
	return buf;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if s[0] does not start
 * one. Overlong forms and surrogates count as invalid. */
static int utf8_len(const unsigned char *s)
{
	int n;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void fmt_json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		int n = utf8_len(p);

		if (*p == '"' || *p == '\\') {
			fputc('\\', f);
			fputc(*p, f);
		} else if (*p == '\n') {
			fputs("\\n", f);
		} else if (*p == '\t') {
			fputs("\\t", f);
		} else if (*p == '\r') {
			fputs("\\r", f);
		} else if (*p < 0x20 || *p == 0x7f || n == 0) {
			fprintf(f, "\\u%04x", *p);
		} else {
			fwrite(p, 1, n, f);
			p += n;
			continue;
		}
		p++;
	}
	fputc('"', f);
}
