/*
 * dashboard.h - the exporter's live page (dashboard.c): GET / serves it,
 * GET /events streams it one update a second (server-sent events), the
 * rest of its files are built into the binary (web/, and Debian's
 * Chart.js). Off with `httpdtrace exporter --no-dashboard`.
 *
 * Life: dash_init() after the BPF object is loaded; dash_tick() from the
 * exporter's main loop (it samples once a second and wakes the open pages);
 * dash_serve() from the HTTP handler, one thread per connection; dash_close()
 * before the HTTP daemon stops (it ends the streams).
 */
#ifndef DASHBOARD_H
#define DASHBOARD_H

#include <stdbool.h>
#include <microhttpd.h>

struct exporter_bpf;
struct exporter_config;

#define DASH_WINDOW 300        /* seconds of history a page gets and keeps */
#define DASH_MAX_VIEWERS 32    /* pages open at once; more get 503 */
#define DASH_INFLIGHT_ROWS 50  /* requests in flight shown, the oldest first */
#define DASH_TOP_ROWS 25       /* (vhost, uri) rows by count and by time */

void dash_init(struct exporter_bpf *skel, const struct exporter_config *cfg);

/* From the main loop, often: once a second, sample the maps into the
 * history and, while pages are open, build the update and wake them. */
void dash_tick(unsigned long long now_ns);

/* One of the dashboard's paths (url) answered: *served is set; false when
 * url is none of them (the caller answers). */
enum MHD_Result dash_serve(struct MHD_Connection *c, const char *url, bool *served);

void dash_close(void);

#endif /* DASHBOARD_H */
