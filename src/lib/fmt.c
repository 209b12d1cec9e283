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

char *fmt_esc(char *buf, size_t len, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (!len)
		return buf;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '\\') {
			if (n + 1 >= len)
				break;
			buf[n++] = (char)*p;
		} else if (*p == '\\') {
			if (n + 2 >= len)
				break;
			buf[n++] = '\\';
			buf[n++] = '\\';
		} else {
			if (n + 4 >= len)
				break;
			buf[n++] = '\\';
			buf[n++] = 'x';
			buf[n++] = hex[*p >> 4];
			buf[n++] = hex[*p & 15];
		}
	}
	buf[n] = '\0';
	return buf;
}

char *fmt_uri_prefix(char *buf, size_t len, const char *uri, unsigned int n)
{
	const char *p = uri;
	unsigned int seen = 0;

	/* p stops at the slash that begins segment n + 1, if any */
	for (p = n ? strchr(uri, '/') : NULL; p; p = strchr(p + 1, '/'))
		if (seen++ == n)
			break;
	if (p && p[1])
		snprintf(buf, len, "%.*s/...", (int)(p - uri), uri);
	else
		snprintf(buf, len, "%s", uri);
	return buf;
}

char *fmt_usec(char *buf, size_t len, unsigned long long us)
{
	if (us < 1000)
		snprintf(buf, len, "%lluus", us);
	else if (us < 10000)
		snprintf(buf, len, "%.2fms", us / 1e3);
	else if (us < 1000000)
		snprintf(buf, len, "%.1fms", us / 1e3);
	else if (us < 10000000)
		snprintf(buf, len, "%.2fs", us / 1e6);
	else if (us < 100000000)
		snprintf(buf, len, "%.1fs", us / 1e6);
	else
		snprintf(buf, len, "%.0fs", us / 1e6);
	return buf;
}

char *fmt_si(char *buf, size_t len, double v)
{
	static const char suffix[] = " KMGTP";
	int i = 0;

	if (v < 100) {
		snprintf(buf, len, "%.1f", v);
		return buf;
	}
	while (v >= 999.5 && suffix[i + 1]) {
		v /= 1000;
		i++;
	}
	if (!i)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, v < 9.995 ? "%.2f%c" : v < 99.95 ? "%.1f%c" : "%.0f%c", v,
			 suffix[i]);
	return buf;
}

const char *fmt_or_dash(const char *s)
{
	return s[0] ? s : "-";
}
