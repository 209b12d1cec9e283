/*
 * proc.h - what /proc says about processes: parents, mapped files, memory.
 * Used to find the module in running servers (module.c) and by `list`.
 */
#ifndef PROC_H
#define PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Call fn(pid, ctx) for every process; stops early (returning fn's value)
 * when fn returns non-zero. Returns 0 otherwise. */
int proc_each(int (*fn)(pid_t pid, void *ctx), void *ctx);

bool proc_exists(pid_t pid);

/* Parent pid, or -1. */
pid_t proc_ppid(pid_t pid);

/* The first file mapped by pid whose base name is `base` (exact, or with
 * `base` as prefix when prefix is true: "mod_mpm_"); deleted files are
 * skipped. Copies its path into path. Returns 1 found, 0 not, -1 unreadable
 * maps (no such process, no permission). */
int proc_find_mapping(pid_t pid, const char *base, bool prefix, char *path, size_t len);

/* The module pid maps, by base name: like proc_find_mapping, but a file
 * deleted or replaced on disk since it was mapped (a reinstall under a
 * running server) counts too, when pid maps no live file of that name:
 * path is then its name as it was, *deleted is set, and mapfile a path that
 * still opens that very file, /proc/PID/map_files/START-END (root only).
 * For a live file mapfile is path. Returns 1 found, 0 not, -1 unreadable. */
int proc_find_module(pid_t pid, const char *base, char *path, size_t len, bool *deleted,
		     char *mapfile, size_t mlen);

/* Whether pid maps the file at `path` (compared by device and inode, so any
 * spelling of the path works). */
bool proc_maps_file(pid_t pid, const char *path);

/* The address at which pid maps file offset `off` of `path`; 0 if none. */
unsigned long long proc_file_addr(pid_t pid, const char *path, unsigned long long off);

/* Read len bytes at addr of pid's memory. Returns 0 or -1. */
int proc_read_mem(pid_t pid, unsigned long long addr, void *buf, size_t len);

/* The executable pid runs (readlink /proc/pid/exe). Returns 0 or -1. */
int proc_exe(pid_t pid, char *path, size_t len);

/* The Apache version pid runs ("Apache/2.4.62 (Debian)"): the longest
 * "Apache/<digit>..." string in its binary, read through /proc/PID/exe (so
 * the running one even after an upgrade replaced the file); "" if none. */
#define PROC_VERSION_LEN 128
void proc_apache_version(pid_t pid, char *out, size_t len);

/* The MPM pid runs: "event" from the mod_mpm_event.so it maps, "built-in"
 * if it maps none. */
void proc_apache_mpm(pid_t pid, char *out, size_t len);

#endif /* PROC_H */
