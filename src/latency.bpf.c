// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * latency.bpf.c - kernel side of `httpdtrace latency`: on httpd:::request-done
 * add the request's latency to a log2 histogram, one per key (-K), after the
 * filters (pid, status, minimum latency, method, vhost, uri substring). Only
 * the histograms cross to user space, read once per report.
 */
#include "vmlinux.h"
#include "lib/trace.bpf.h"
#include "lib/request_filter.bpf.h"
#include "mod_dtprovider.h"
#include "lib/hist_shared.h"
#include "latency.h"

const volatile char filt_uri[STR_NAME] = {};	/* substring, "" = any */
const volatile __u32 filt_uri_len = 0;
const volatile int key_kind = LAT_KEY_NONE;
const volatile bool in_ms = false;	/* histogram of milliseconds */
const volatile __u64 max_keys = LAT_MAX_KEYS;	/* per generation */

__u32 gen = 0;		/* generation being filled; user space flips it */
__u64 nkeys[2] = {};	/* keys per generation (user space zeroes the old one) */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 2 * LAT_MAX_KEYS); /* latency.c: 2 * --max-keys + slack */
	__type(key, struct lat_key);
	__type(value, struct hist);
} hists SEC(".maps");

/* Requests whose key did not fit, per generation. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct hist);
} other SEC(".maps");

/* Without -K: the one histogram of each generation, no hashing. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct hist);
} single SEC(".maps");

/* Strings read from the process: too big for the BPF stack together. */
struct scratch {
	struct httpd_request_info info;
	char method[STR_METHOD];
	char vhost[STR_NAME];
	char uri[STR_URI + STR_NAME]; /* the tail keeps i + j in bounds */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

static const struct hist zero_hist;

/* filt_uri occurs in uri (NUL-terminated in its first STR_URI bytes):
 * the plain quadratic search, bounded for the verifier. */
static __always_inline bool uri_has(const char *uri)
{
	for (__u32 i = 0; i < STR_URI; i++) {
		bool match = true;

		if (!uri[i])
			return false;
		for (__u32 j = 0; j < STR_NAME && j < filt_uri_len; j++) {
			if (uri[i + j] != filt_uri[j]) {
				match = false;
				break;
			}
		}
		if (match)
			return true;
	}
	return false;
}

/* The arguments are fetched as they are needed rather than all six up front
 * (BPF_USDT's way): each fetch looks the probe's argument spec up in a map,
 * and most runs need two of them. */
SEC("usdt")
int request__done(struct pt_regs *ctx)
{
	struct lat_key k = {};
	struct scratch *sc;
	struct hist *h;
	__u32 zero = 0, g = gen & 1;
	long status = 0, latency_us = 0, method = 0, uri = 0, infop = 0;
	__u64 v;

	if (!trace_pid_match())
		return 0;
	bpf_usdt_arg(ctx, 1, &status);
	bpf_usdt_arg(ctx, 2, &latency_us);
	v = in_ms ? (__u64)latency_us / 1000 : (__u64)latency_us;
	if (request_filter.method[0] || key_kind == LAT_KEY_METHOD)
		bpf_usdt_arg(ctx, 3, &method);
	if (filt_uri_len)
		bpf_usdt_arg(ctx, 4, &uri);
	if (request_filter.vhost[0] || key_kind == LAT_KEY_VHOST || key_kind == LAT_KEY_HANDLER)
		bpf_usdt_arg(ctx, 5, &infop);
	sc = bpf_map_lookup_elem(&scratch, &zero);
	if (!sc)
		return 0;
	/* Strings are copied only for a filter or key that wants them. */
	if (request_filter.method[0])
		TRACE_STR(sc->method, method);
	if (request_filter.vhost[0] || key_kind == LAT_KEY_VHOST || key_kind == LAT_KEY_HANDLER) {
		if (bpf_probe_read_user(&sc->info, sizeof(sc->info), (const void *)infop))
			return 0;
		if (request_filter.vhost[0])
			TRACE_STR(sc->vhost, sc->info.vhost);
	}
	if (!request_filter_pass((int)status, (__u64)latency_us,
				 request_filter.method[0] ? sc->method : NULL,
				 request_filter.vhost[0] ? sc->vhost : NULL))
		return 0;
	if (filt_uri_len) {
		TRACE_STR(sc->uri, uri);
		if (!uri_has(sc->uri))
			return 0;
	}

	if (key_kind == LAT_KEY_NONE) {
		h = bpf_map_lookup_elem(&single, &g);
		if (h)
			hist_add_atomic(h, v);
		return 0;
	}
	k.gen = g;
	switch (key_kind) {
	case LAT_KEY_STATUS:
		k.status = (int)status;
		break;
	case LAT_KEY_METHOD:
		TRACE_STR(k.str, method);
		break;
	case LAT_KEY_VHOST:
		TRACE_STR(k.str, sc->info.vhost);
		break;
	case LAT_KEY_HANDLER:
		TRACE_STR(k.str, sc->info.handler);
		break;
	}

	h = bpf_map_lookup_elem(&hists, &k);
	if (!h && nkeys[g] < max_keys &&
	    bpf_map_update_elem(&hists, &k, &zero_hist, BPF_NOEXIST) == 0) {
		__sync_fetch_and_add(&nkeys[g], 1);
		h = bpf_map_lookup_elem(&hists, &k);
	}
	if (!h) {
		/* a twin on another CPU may have made the key meanwhile */
		h = bpf_map_lookup_elem(&hists, &k);
		if (!h)
			h = bpf_map_lookup_elem(&other, &g);
	}
	if (h)
		hist_add_atomic(h, v);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
