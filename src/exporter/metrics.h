/*
 * metrics.h - one scrape of `httpdtrace exporter` (metrics.c).
 */
#ifndef EXPORTER_METRICS_H
#define EXPORTER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include "exporter.h"

struct exporter_bpf;

struct exporter_config {
	const char *module;             /* the module traced (httpd_info) */
	unsigned long long max_series;  /* --max-series */
	unsigned int nroutes;           /* --routes: the patterns as written */
	const char (*route_names)[EXP_ROUTE_LEN + 1];
	bool phases;                    /* --phases: request-phase is traced */
};

/* Every metric, read from the maps now, in the text format (version 0.0.4)
 * or in OpenMetrics 1.0 (with exemplars on the duration buckets): malloc'd,
 * *len bytes; NULL (said on stderr) on failure. */
char *exporter_metrics(struct exporter_bpf *skel, const struct exporter_config *c, bool openmetrics,
		       size_t *len);

#endif /* EXPORTER_METRICS_H */
