/*
 * dash_update.h - the JSON the dashboard streams (dash_update.c), apart from
 * its threads and HTTP (dashboard.c): a sample of the request series per
 * second, and the update built from the maps for the open pages.
 */
#ifndef DASH_UPDATE_H
#define DASH_UPDATE_H

#include <stddef.h>
#include <stdio.h>
#include "exporter.h"

struct exporter_bpf;
struct exporter_config;

/* One second of finished requests. */
struct dash_sample {
	unsigned long long t_ms;                     /* wall clock at its end */
	double dt;                                   /* seconds it spans */
	unsigned long long classes[6];               /* other, 1xx ... 5xx */
	unsigned long long buckets[EXP_DUR_BUCKETS + 1]; /* the last: over 10 s */
	unsigned long long sum_us;
};

/* Every series summed into cumulative counts per class and bucket (*nseries:
 * the series, the folded "other" one not counted); <0 on error. */
int dash_read_cumulative(struct exporter_bpf *skel, struct dash_sample *cum, int *nseries);

void dash_json_u64s(FILE *f, const unsigned long long *v, int n);
void dash_json_sample(FILE *f, const struct dash_sample *s);

/* What an update is made of, besides the maps. */
struct dash_update_in {
	struct exporter_bpf *skel;
	const struct exporter_config *cfg;
	const struct dash_sample *sample;  /* the last second */
	int nseries;
	unsigned int pages;                /* open */
	unsigned long long top_since_ms;   /* when top's table began */
	unsigned long long now_ns, seq;
};

/* The update for the open pages: an SSE event, malloc'd (NULL: no memory). */
char *dash_build_update(const struct dash_update_in *in, size_t *len);

#endif /* DASH_UPDATE_H */
