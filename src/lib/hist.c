/*
 * hist.c - log2 histograms in user space (see hist.h): the slot edges, the
 * percentile estimate and the DTrace-style printout that `latency` and `top`
 * share.
 */
#include <string.h>
#include "hist.h"

#define HIST_BAR 40

unsigned long long hist_slot_low(unsigned int s)
{
	return s == 0 ? 0 : 1ULL << (s - 1);
}

unsigned long long hist_slot_high(unsigned int s)
{
	if (s == 0)
		return 0;
	if (s >= 64)
		return ~0ULL;
	return (1ULL << s) - 1;
}

void hist_add(struct hist *h, unsigned long long v)
{
	h->slots[hist_slot(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

void hist_merge(struct hist *h, const struct hist *o)
{
	for (int i = 0; i < HIST_SLOTS; i++)
		h->slots[i] += o->slots[i];
	h->count += o->count;
	h->sum += o->sum;
	if (o->max > h->max)
		h->max = o->max;
}

unsigned long long hist_percentile(const struct hist *h, double p)
{
	unsigned long long rank, seen = 0;

	if (h->count == 0)
		return 0;
	/* rank = ceil(p/100 * count), at least 1: the value with that rank. */
	rank = (unsigned long long)(p / 100.0 * (double)h->count);
	if ((double)rank < p / 100.0 * (double)h->count)
		rank++;
	if (rank < 1)
		rank = 1;
	for (unsigned int s = 0; s < HIST_SLOTS; s++) {
		seen += h->slots[s];
		if (seen >= rank) {
			unsigned long long hi = hist_slot_high(s);
			return hi < h->max ? hi : h->max;
		}
	}
	return h->max;
}

void hist_print(FILE *f, const struct hist *h, const char *unit)
{
	int first = -1, last = -1;
	unsigned long long total = 0;
	char bar[HIST_BAR + 1];

	for (int s = 0; s < HIST_SLOTS; s++) {
		if (!h->slots[s])
			continue;
		if (first < 0)
			first = s;
		last = s;
		total += h->slots[s];
	}
	fprintf(f, "  %s\n", unit);
	if (first < 0)
		return;
	if (first > 0)
		first--;
	if (last < HIST_SLOTS - 1)
		last++;
	fprintf(f, "%16s  %s %s\n", "value", "------------- Distribution -------------", "count");
	for (int s = first; s <= last; s++) {
		int n = (int)((h->slots[s] * HIST_BAR + total / 2) / total);

		if (h->slots[s] && n == 0)
			n = 1; /* a non-empty slot always shows */
		memset(bar, '@', n);
		memset(bar + n, ' ', HIST_BAR - n);
		bar[HIST_BAR] = '\0';
		fprintf(f, "%16llu |%s %llu\n", hist_slot_low(s), bar, h->slots[s]);
	}
}

void hist_print_stats(FILE *f, const struct hist *h)
{
	fprintf(f, "  count %llu, p50 <= %llu, p90 <= %llu, p99 <= %llu, max %llu\n", h->count,
		hist_percentile(h, 50), hist_percentile(h, 90), hist_percentile(h, 99), h->max);
}

void hist_json(FILE *f, const struct hist *h)
{
	const char *sep = "";

	fprintf(f, "\"count\":%llu,\"sum\":%llu,\"max\":%llu,\"p50\":%llu,\"p90\":%llu,"
		"\"p99\":%llu,\"buckets\":[", h->count, h->sum, h->max, hist_percentile(h, 50),
		hist_percentile(h, 90), hist_percentile(h, 99));
	for (unsigned int s = 0; s < HIST_SLOTS; s++) {
		if (!h->slots[s])
			continue;
		fprintf(f, "%s{\"low\":%llu,\"high\":%llu,\"count\":%llu}", sep, hist_slot_low(s),
			hist_slot_high(s), h->slots[s]);
		sep = ",";
	}
	fputc(']', f);
}
