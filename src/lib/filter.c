/*
 * filter.c - the shared filter options: parsing and user-space matching (see
 * filter.h for where each filter runs and why).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "filter.h"

int filter_status_parse(const char *s, struct filter_status *f)
{
	char *end;
	long lo, hi;

	if (strlen(s) == 3 && isdigit((unsigned char)s[0]) && s[0] != '0' &&
	    tolower((unsigned char)s[1]) == 'x' && tolower((unsigned char)s[2]) == 'x') {
		f->lo = (s[0] - '0') * 100;
		f->hi = f->lo + 99;
		return 0;
	}
	if (!isdigit((unsigned char)s[0]))
		return -1;
	lo = strtol(s, &end, 10);
	hi = lo;
	if (*end == '-') {
		if (!isdigit((unsigned char)end[1]))
			return -1;
		hi = strtol(end + 1, &end, 10);
	}
	if (*end || lo < 100 || hi > 999 || lo > hi)
		return -1;
	f->lo = (int)lo;
	f->hi = (int)hi;
	return 0;
}

bool filter_status_match(const struct filter_status *f, int status)
{
	if (!f->lo && !f->hi)
		return true;
	return status >= f->lo && status <= f->hi;
}

int filter_method_parse(const char *s, char *buf, unsigned int len)
{
	unsigned int i;

	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i + 1 >= len || !(isalpha(c) || c == '-' || c == '_'))
			return -1;
		buf[i] = (char)toupper(c);
	}
	if (i == 0)
		return -1;
	buf[i] = '\0';
	return 0;
}

int filter_uri_regex(struct filter_uri *f, const char *re, char *err, unsigned int errlen)
{
	int rc = regcomp(&f->regex, re, REG_EXTENDED | REG_NOSUB);

	if (rc) {
		regerror(rc, &f->regex, err, errlen);
		return -1;
	}
	f->has_regex = true;
	return 0;
}

bool filter_uri_match(const struct filter_uri *f, const char *uri)
{
	if (f->substr && !strstr(uri, f->substr))
		return false;
	if (f->has_regex && regexec(&f->regex, uri, 0, NULL, 0) != 0)
		return false;
	return true;
}

void filter_uri_free(struct filter_uri *f)
{
	if (f->has_regex)
		regfree(&f->regex);
	f->has_regex = false;
}
