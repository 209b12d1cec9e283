/*
 * probes.h - the USDT probes an ELF file carries, read from its
 * .note.stapsdt notes (what `readelf -n` shows): provider, name, site and
 * semaphore. Used to check a module before attaching and by `list`.
 */
#ifndef PROBES_H
#define PROBES_H

#define PROBES_MAX 64

struct probe_note {
	char provider[32];
	char name[64];
	unsigned long long pc;      /* probe site (virtual address) */
	unsigned long long sem;     /* semaphore address, 0 if none */
	unsigned long long sem_off; /* semaphore's file offset, 0 if none */
};

/* Read up to `max` notes of `path` into out. Returns the number read, or -1
 * (not readable or not ELF) with errno set. */
int probes_read(const char *path, struct probe_note *out, int max);

/* Distinct probe names of `provider` among the n notes (a probe may have
 * several sites). */
int probes_count(const struct probe_note *notes, int n, const char *provider);

/* Whether provider:name is among the notes. */
int probes_has(const struct probe_note *notes, int n, const char *provider, const char *name);

#endif /* PROBES_H */
