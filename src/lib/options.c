/*
 * options.c - parsing of the values options and positional arguments take
 * (see options.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "options.h"

int opt_duration_parse(const char *s, unsigned long long *us)
{
	static const struct {
		const char *unit;
		double us;
	} units[] = {
		{ "ns", 1e-3 }, { "us", 1 }, { "ms", 1e3 }, { "s", 1e6 }, { "m", 60e6 },
	};
	char *end;
	double v;

	if (!isdigit((unsigned char)s[0]) && s[0] != '.')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			v *= units[i].us;
			if (v >= 1.8e19)
				return -1;
			*us = (unsigned long long)v;
			return 0;
		}
	}
	return -1;
}

int opt_interval_parse(const char *s, unsigned long long *ms)
{
	unsigned long long us;
	char *end;
	double v;

	if (!isdigit((unsigned char)s[0]) && s[0] != '.')
		return -1;
	if (opt_duration_parse(s, &us) == 0) {
		v = (double)us / 1e3;
	} else {
		errno = 0;
		v = strtod(s, &end) * 1e3;
		if (errno || end == s || *end)
			return -1;
	}
	if (v < 1 || v > 86400e3)
		return -1;
	*ms = (unsigned long long)v;
	return 0;
}

int opt_count_parse(const char *s, unsigned long long *n)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v <= 0 || v > 0x7fffffff)
		return -1;
	*n = (unsigned long long)v;
	return 0;
}
