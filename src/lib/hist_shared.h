/*
 * hist_shared.h - the log2 histogram layout shared by BPF programs and user
 * space (so no includes and only plain C types: the BPF side has no libc).
 *
 * Buckets follow DTrace's quantize(): slot 0 holds the value 0, slot s > 0
 * holds [2^(s-1), 2^s - 1]. A BPF program keeps a struct hist in a map and
 * bumps slots[hist_slot(v)]; user space prints it with hist_print() and
 * takes percentiles with hist_percentile() (src/hist.h).
 */
#ifndef HIST_SHARED_H
#define HIST_SHARED_H

#define HIST_SLOTS 65 /* 0, then one slot per power of two of a u64 */

struct hist {
	unsigned long long slots[HIST_SLOTS];
	unsigned long long count; /* values added */
	unsigned long long sum;   /* their sum (for a mean) */
	unsigned long long max;   /* the largest */
};

/* Slot of value v: 0 for 0, else 1 + floor(log2(v)). Branch-free enough for
 * the verifier (no loop). */
static inline unsigned int hist_slot(unsigned long long v)
{
	unsigned int s = 0;

	if (v >= 1ULL << 32) { v >>= 32; s += 32; }
	if (v >= 1ULL << 16) { v >>= 16; s += 16; }
	if (v >= 1ULL << 8) { v >>= 8; s += 8; }
	if (v >= 1ULL << 4) { v >>= 4; s += 4; }
	if (v >= 1ULL << 2) { v >>= 2; s += 2; }
	if (v >= 1ULL << 1) { v >>= 1; s += 1; }
	return v ? s + 1 : 0;
}

/* Add v to h where several writers may race: a BPF program's map value
 * (per-CPU values race only with a preempted program on the same CPU, which
 * may make max lag behind; the counts stay exact). */
static inline void hist_add_atomic(struct hist *h, unsigned long long v)
{
	unsigned int s = hist_slot(v);

	if (s >= HIST_SLOTS) /* never: tells the verifier the index is in bounds */
		return;
	__sync_fetch_and_add(&h->slots[s], 1);
	__sync_fetch_and_add(&h->count, 1);
	__sync_fetch_and_add(&h->sum, v);
	if (v > h->max)
		h->max = v;
}

#endif /* HIST_SHARED_H */
