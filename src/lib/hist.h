/*
 * hist.h - log2 histograms in user space: add, merge, percentiles, print.
 * The layout (struct hist, hist_slot) is in hist_shared.h so BPF programs
 * can fill the same struct in a map.
 */
#ifndef HIST_H
#define HIST_H

#include <stdio.h>
#include "hist_shared.h"

/* Lowest and highest value slot s holds. */
unsigned long long hist_slot_low(unsigned int s);
unsigned long long hist_slot_high(unsigned int s);

/* Add one value (count, sum and max follow). */
void hist_add(struct hist *h, unsigned long long v);

/* h += o (slots, count, sum; max is the larger). */
void hist_merge(struct hist *h, const struct hist *o);

/* The p-th percentile (0 < p <= 100) as the upper edge of the slot that holds
 * it, clamped to h->max: an estimate at most 2x too high, never above the
 * largest value seen. 0 when the histogram is empty. h->count must equal the
 * sum of the slots (hist_add keeps it so; a BPF side must too). */
unsigned long long hist_percentile(const struct hist *h, double p);

/* Print DTrace's quantize() way: "value  ---- Distribution ---- count", from
 * the slot below the first non-empty one to the slot after the last, 40
 * columns of '@' (under 80 columns in all). `unit` heads the table
 * ("microseconds"); nothing but the heading when empty. */
void hist_print(FILE *f, const struct hist *h, const char *unit);

/* One line under a histogram: "  count 7, p50 <= 1023, p90 <= 2047, p99 <=
 * 2047, max 1500" (percentiles from hist_percentile: bucket upper edges). */
void hist_print_stats(FILE *f, const struct hist *h);

/* The histogram as JSON members, without braces, for the caller to wrap:
 * "count":N,"sum":N,"max":N,"p50":N,"p90":N,"p99":N,"buckets":[{"low":L,
 * "high":H,"count":N},...] with the non-empty slots only, lowest first. */
void hist_json(FILE *f, const struct hist *h);

#endif /* HIST_H */
