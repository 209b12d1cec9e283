/*
 * exporter.h - what `httpdtrace exporter`'s BPF side (exporter.bpf.c)
 * aggregates and its user side (exporter.c) reads at each scrape: counters
 * and fixed-bucket histograms, per label set, in the kernel. Nothing crosses
 * per request.
 */
#ifndef EXPORTER_H
#define EXPORTER_H

#include "lib/hist_shared.h"
#include "lib/phase_track.h"
#include "lib/sizes.h"

#define EXP_MAX_SERIES 1000      /* default --max-series: request label sets */
#define EXP_INFLIGHT_SLOTS 16384 /* requests followed from start to done (2^n) */
#define EXP_INFLIGHT_PROBE 32    /* slots tried from a request's own */
#define EXP_EXEMPLAR_NS 1000000000ULL /* a bucket's exemplar changes at most this often */
#define EXP_MAX_OPEN 65536       /* connections followed from start to done */
#define EXP_REASONS 6            /* conn-done's reasons (HTTPD_CONN_END_*) */
#define EXP_DASH_KEYS 4096       /* the dashboard's (vhost, uri) table */

/* Upper bounds of the histogram buckets (+Inf is the count). Duration in
 * microseconds: OpenTelemetry's advised seconds 0.005 ... 10, with finer
 * ones below 5 ms. */
#define EXP_DUR_BUCKETS 17
#define EXP_DUR_BOUNDS_US                                                      \
	{ 500, 1000, 2500, 5000, 10000, 25000, 50000, 75000, 100000, 250000,   \
	  500000, 750000, 1000000, 2500000, 5000000, 7500000, 10000000 }
/* Body sizes in bytes. */
#define EXP_SIZE_BUCKETS 7
#define EXP_SIZE_BOUNDS { 100, 1000, 10000, 100000, 1000000, 10000000, 100000000 }
/* Connection duration in microseconds (0.01 s ... 1 h). */
#define EXP_CONN_DUR_BUCKETS 8
#define EXP_CONN_DUR_BOUNDS_US                                                 \
	{ 10000, 100000, 1000000, 5000000, 15000000, 60000000, 300000000,      \
	  3600000000ULL }
/* Requests per connection. */
#define EXP_CONN_REQS_BUCKETS 8
#define EXP_CONN_REQS_BOUNDS { 1, 2, 5, 10, 20, 50, 100, 1000 }

/* Methods OpenTelemetry names; anything else is _OTHER (index 0). */
#define EXP_METHODS 10
#define EXP_METHOD_NAMES                                                        \
	{ "_OTHER", "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH",    \
	  "POST", "PUT", "TRACE" }
/* network.protocol.version: index 0 for any other protocol string. */
#define EXP_PROTOCOLS 4
#define EXP_PROTOCOL_NAMES { "_OTHER", "1.0", "1.1", "2" }

/* --routes: at most EXP_MAX_ROUTES patterns, each a path ("/login": that
 * path only) or a prefix ending in a star ("/api/users/" then '*': every
 * path that begins with /api/users/), of at most EXP_ROUTE_LEN - 1 bytes
 * before the star. The first that matches the request's uri is its
 * http_route. */
#define EXP_MAX_ROUTES 64
#define EXP_ROUTE_LEN 64

struct exp_route {
	char path[EXP_ROUTE_LEN];  /* the bytes to compare, NUL-padded */
	__u32 len;                 /* how many */
	__u32 prefix;              /* 1: a '*' pattern, the uri may go on */
};

/* One label set of the request metrics. A series over --max-series is
 * folded into the overflow series (req_other), whose labels read _other. */
struct exp_req_key {
	__u16 status;           /* http.response.status_code */
	__u8 method;            /* index in EXP_METHOD_NAMES */
	__u8 protocol;          /* index in EXP_PROTOCOL_NAMES */
	__u8 route;             /* --routes: 1 + the route's index; 0: none matched */
	__u8 pad[3];
	char vhost[STR_NAME];   /* server.address: the vhost's ServerName */
};

/* The latest request that fell in a duration bucket (OpenMetrics exemplar):
 * its id, latency, when (bpf_ktime_get_ns; 0: none yet) and the W3C trace-id
 * it carried in a traceparent header (info struct version 2), as 16 bytes;
 * all zero (never a valid trace-id): none. */
struct exp_exemplar {
	__u64 id;
	__u64 latency_us;
	__u64 ts_ns;
	__u8 trace_id[16];
};

/* Per bucket counts (not cumulative: user space sums them up). */
struct exp_req_val {
	__u64 count;                          /* requests */
	__u64 duration_us;                    /* their summed latency */
	__u64 duration[EXP_DUR_BUCKETS];
	struct exp_exemplar exemplar[EXP_DUR_BUCKETS + 1]; /* the last: +Inf */
	__u64 response_bytes;                 /* summed response bodies */
	__u64 response[EXP_SIZE_BUCKETS];
	__u64 request_bytes;                  /* summed request bodies */
	__u64 request[EXP_SIZE_BUCKETS];
};

/* Per CPU, index 0: everything that is not per label set. */
struct exp_totals {
	__u64 phase_count[PHASES_N];        /* requests that ran the phase */
	__u64 phase_us[PHASES_N];           /* their summed time in it */
	__u64 phase[PHASES_N][EXP_DUR_BUCKETS];
	__u64 folded;                         /* requests into req_other */
	__u64 conns_opened;
	__u64 conns_closed[EXP_REASONS];      /* by reason, of those opened */
	__u64 conn_duration_us;
	__u64 conn_duration[EXP_CONN_DUR_BUCKETS];
	__u64 conn_requests;
	__u64 conn_requests_hist[EXP_CONN_REQS_BUCKETS];
	__u64 untracked;                      /* begun with no in-flight slot free */
	__u64 dash_overflow;                  /* dashboard: requests whose (vhost, uri)
					       * found no room in dash_uris */
};

/* A request in flight, in a slot of the in-flight table (a global of the BPF
 * object that user space reads in place): id 0 is a free slot; start_ns 0
 * while the slot is being taken. Lock-free: a slot is taken with a
 * compare-and-swap on id, from the request's own (id mod the table) onwards,
 * and freed at its request-done. A hash map's update and delete take a lock
 * with interrupts off, which cost more than the rest of the two programs. */
struct exp_inflight {
	__u64 id;
	__u64 start_ns;
	__u32 tgid;     /* the Apache process serving it: a slot whose process is
			 * gone (killed mid-request) is freed at the next scrape */
	__u32 pad;
};

/* The dashboard (dashboard.c). While a page is open (dash_viewers > 0),
 * request-start also copies the request's method, vhost and uri beside its
 * in-flight slot, and request-done adds the request to dash_uris; with no
 * page open neither costs more than a load of dash_viewers. */
struct exp_flight_text {
	__u64 id;                  /* the request these strings are of (0: none) */
	char method[STR_METHOD];
	char vhost[STR_NAME];
	char uri[STR_TOP_URI];
};

/* top's aggregation, per (vhost, uri): whole key hashed, unused bytes 0. */
struct exp_dash_key {
	char vhost[STR_NAME];
	char uri[STR_TOP_URI];
};

#endif /* EXPORTER_H */
