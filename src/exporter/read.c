/*
 * read.c - exporter.bpf.c's maps read and summed over the CPUs
 * (read.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "read.h"
#include "exporter.skel.h"

/* Add one CPU's counters to sum; of the exemplars, keep the newest. */
static void val_add(struct exp_req_val *sum, const struct exp_req_val *v)
{
	const size_t ex = offsetof(struct exp_req_val, exemplar);
	const size_t ex_end = ex + sizeof(v->exemplar);
	const char *src = (const char *)v;
	char *dst = (char *)sum;

	for (size_t off = 0; off < sizeof(*v); off += sizeof(__u64))
		if (off < ex || off >= ex_end)
			*(__u64 *)(dst + off) += *(const __u64 *)(src + off);
	for (int b = 0; b <= EXP_DUR_BUCKETS; b++)
		if (v->exemplar[b].ts_ns > sum->exemplar[b].ts_ns)
			sum->exemplar[b] = v->exemplar[b];
}

int exp_read_series(struct exporter_bpf *skel, struct exp_series **out)
{
	int fd = bpf_map__fd(skel->maps.reqs), n = 0, cap = 0, ncpus = libbpf_num_possible_cpus();
	struct exp_req_val *percpu = ncpus > 0 ? calloc((size_t)ncpus, sizeof(*percpu)) : NULL;
	struct exp_req_key key, *prev = NULL;
	struct exp_series *s = NULL;
	__u32 zero = 0;

	if (!percpu)
		return ncpus > 0 ? -ENOMEM : ncpus;
	for (;;) {
		bool last = bpf_map_get_next_key(fd, prev, &key) != 0;
		struct exp_series one = { .other = last };

		if (last) {
			if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.req_other), &zero, percpu))
				break;
		} else {
			prev = &key;
			one.key = key;
			if (bpf_map_lookup_elem(fd, &key, percpu))
				continue; /* gone meanwhile: never, entries are not deleted */
		}
		for (int c = 0; c < ncpus; c++)
			val_add(&one.val, &percpu[c]);
		if (!last || one.val.count) {
			if (n == cap) {
				struct exp_series *g = realloc(s, (size_t)(cap = cap ? 2 * cap : 64) *
								     sizeof(*s));

				if (!g) {
					free(s);
					free(percpu);
					return -ENOMEM;
				}
				s = g;
			}
			s[n++] = one;
		}
		if (last)
			break;
	}
	free(percpu);
	*out = s;
	return n;
}

int exp_read_totals(struct exporter_bpf *skel, struct exp_totals *sum)
{
	int ncpus = libbpf_num_possible_cpus();
	struct exp_totals *percpu = ncpus > 0 ? calloc((size_t)ncpus, sizeof(*percpu)) : NULL;
	__u32 zero = 0;
	int err = 0;

	memset(sum, 0, sizeof(*sum));
	if (!percpu)
		return ncpus > 0 ? -ENOMEM : ncpus;
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.totals), &zero, percpu))
		err = -errno;
	for (int c = 0; !err && c < ncpus; c++) {
		const __u64 *src = (const __u64 *)&percpu[c];
		__u64 *dst = (__u64 *)sum;

		for (size_t i = 0; i < sizeof(*sum) / sizeof(__u64); i++)
			dst[i] += src[i];
	}
	free(percpu);
	return err;
}

unsigned long long exp_inflight(struct exporter_bpf *skel, unsigned long long *oldest_ns,
				void (*each)(const struct exp_flight *f, void *ctx), void *ctx)
{
	struct exp_inflight *slots = skel->bss->inflight;
	unsigned long long n = 0;
	struct exp_flight f;

	*oldest_ns = 0;
	for (unsigned int i = 0; i < EXP_INFLIGHT_SLOTS; i++) {
		f.id = __atomic_load_n(&slots[i].id, __ATOMIC_ACQUIRE);
		if (!f.id)
			continue;
		f.slot = i;
		f.tgid = __atomic_load_n(&slots[i].tgid, __ATOMIC_RELAXED);
		f.start_ns = __atomic_load_n(&slots[i].start_ns, __ATOMIC_ACQUIRE);
		/* its process died mid-request (start_ns set: the slot is not being
		 * taken now): it will never finish; free the slot if still its */
		if (f.start_ns && f.tgid && !proc_exists((pid_t)f.tgid)) {
			__atomic_compare_exchange_n(&slots[i].id, &f.id, 0, false, __ATOMIC_RELEASE,
						    __ATOMIC_RELAXED);
			continue;
		}
		n++;
		if (!f.start_ns) /* being taken now */
			continue;
		if (!*oldest_ns || f.start_ns < *oldest_ns)
			*oldest_ns = f.start_ns;
		if (each)
			each(&f, ctx);
	}
	return n;
}

/* The servers found at the last scan, and the processes that map the
 * module (to count each server's). */
static pthread_mutex_t apaches_lock = PTHREAD_MUTEX_INITIALIZER;
static struct exp_apache apaches[EXP_APACHES_MAX];
static int napaches;
static unsigned long long apaches_ns; /* when found; 0: never */

struct apache_scan {
	const char *module;
	pid_t ppids[4096]; /* parent of each process that maps the module */
	int n;
};

static int apache_find(pid_t pid, void *ctx)
{
	struct apache_scan *scan = ctx;
	struct exp_apache *a = &apaches[napaches];
	pid_t ppid;

	if (!proc_maps_file(pid, scan->module))
		return 0;
	ppid = proc_ppid(pid);
	if (scan->n < (int)(sizeof(scan->ppids) / sizeof(scan->ppids[0])))
		scan->ppids[scan->n++] = ppid;
	if (napaches == EXP_APACHES_MAX || proc_maps_file(ppid, scan->module))
		return 0; /* a child, or no room */
	memset(a, 0, sizeof(*a));
	a->pid = pid;
	proc_apache_version(pid, a->version, sizeof(a->version));
	proc_apache_mpm(pid, a->mpm, sizeof(a->mpm));
	napaches++;
	return 0;
}

int exp_apaches(const char *module, unsigned long long now, struct exp_apache *out)
{
	int n = 0;

	pthread_mutex_lock(&apaches_lock);
	if (!apaches_ns || now - apaches_ns >= EXP_APACHES_RESCAN_NS) {
		struct apache_scan *scan = calloc(1, sizeof(*scan));

		if (scan) {
			scan->module = module;
			napaches = 0;
			proc_each(apache_find, scan);
			for (int i = 0; i < napaches; i++) {
				apaches[i].procs = 1;
				for (int j = 0; j < scan->n; j++)
					apaches[i].procs += scan->ppids[j] == apaches[i].pid;
			}
			apaches_ns = now;
			free(scan);
		}
	}
	for (int i = 0; i < napaches; i++)
		if (proc_exists(apaches[i].pid))
			out[n++] = apaches[i];
	pthread_mutex_unlock(&apaches_lock);
	return n;
}
