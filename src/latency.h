/*
 * latency.h - the maps `httpdtrace latency` shares between latency.bpf.c and
 * latency.c: one log2 histogram (struct hist, hist_shared.h) per key in a
 * per-CPU hash, plus one for the requests whose key did not fit.
 *
 * Keys carry a generation (0 or 1): the BPF side adds to the generation in
 * `gen`; at each report user space flips it and then reads and deletes the
 * old generation, so no request is lost between two reports.
 */
#ifndef LATENCY_H
#define LATENCY_H

#include "lib/sizes.h"

#define LAT_MAX_KEYS 1024    /* default --max-keys */

enum lat_key_kind {
	LAT_KEY_NONE,    /* one histogram */
	LAT_KEY_STATUS,  /* lat_key.status */
	LAT_KEY_METHOD,  /* lat_key.str ... */
	LAT_KEY_VHOST,
	LAT_KEY_HANDLER,
};

struct lat_key {
	__u32 gen;
	__s32 status;
	char str[STR_NAME];
};

#endif /* LATENCY_H */
