/*
 * proc.c - reading /proc: process list, parents, memory maps and memory (see
 * proc.h). Lines of /proc/PID/maps look like
 *   7f1c2a000000-7f1c2a004000 r--p 00000000 fd:01 1234   /path/file
 */
#define _GNU_SOURCE /* memmem */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "proc.h"

int proc_each(int (*fn)(pid_t pid, void *ctx), void *ctx)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int ret = 0;

	if (!d)
		return 0;
	while (!ret && (de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		ret = fn((pid_t)atoi(de->d_name), ctx);
	}
	closedir(d);
	return ret;
}

bool proc_exists(pid_t pid)
{
	char p[32];

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	return pid > 0 && access(p, F_OK) == 0;
}

pid_t proc_ppid(pid_t pid)
{
	char p[32], buf[512], *s;
	FILE *f;
	int ppid = -1;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	f = fopen(p, "r");
	if (!f)
		return -1;
	/* "pid (comm) state ppid ...": comm may hold spaces and ')' */
	if (fgets(buf, sizeof(buf), f) && (s = strrchr(buf, ')')))
		if (sscanf(s + 1, " %*c %d", &ppid) != 1)
			ppid = -1;
	fclose(f);
	return ppid;
}

/* One parsed line of /proc/PID/maps. */
struct maps_line {
	unsigned long long start, end, off, ino;
	unsigned int major, minor;
	char *path; /* points into the line; "" for anonymous mappings */
};

static bool maps_parse(char *line, struct maps_line *m)
{
	int n = 0;

	if (sscanf(line, "%llx-%llx %*s %llx %x:%x %llu %n", &m->start, &m->end, &m->off,
		   &m->major, &m->minor, &m->ino, &n) < 6)
		return false;
	m->path = line + n;
	m->path[strcspn(m->path, "\n")] = '\0';
	return true;
}

static FILE *maps_open(pid_t pid)
{
	char p[32];

	snprintf(p, sizeof(p), "/proc/%d/maps", (int)pid);
	return fopen(p, "r");
}

int proc_find_mapping(pid_t pid, const char *base, bool prefix, char *path, size_t len)
{
	FILE *f = maps_open(pid);
	char line[PATH_MAX + 128];
	struct maps_line m;
	int found = 0;

	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f)) {
		const char *b;

		if (!maps_parse(line, &m) || m.path[0] != '/' || strstr(m.path, " (deleted)"))
			continue;
		b = strrchr(m.path, '/') + 1;
		if (prefix ? strncmp(b, base, strlen(base)) == 0 : strcmp(b, base) == 0) {
			snprintf(path, len, "%s", m.path);
			found = 1;
		}
	}
	fclose(f);
	return found;
}

int proc_find_module(pid_t pid, const char *base, char *path, size_t len, bool *deleted,
		     char *mapfile, size_t mlen)
{
	static const char gone[] = " (deleted)";
	FILE *f;
	char line[PATH_MAX + 128];
	struct maps_line m;
	int found = proc_find_mapping(pid, base, false, path, len);

	*deleted = false;
	if (found) {
		if (found == 1)
			snprintf(mapfile, mlen, "%s", path);
		return found;
	}
	if (!(f = maps_open(pid)))
		return -1;
	while (!found && fgets(line, sizeof(line), f)) {
		size_t n;

		if (!maps_parse(line, &m) || m.path[0] != '/' ||
		    (n = strlen(m.path)) <= sizeof(gone) - 1 ||
		    strcmp(m.path + n - (sizeof(gone) - 1), gone))
			continue;
		m.path[n - (sizeof(gone) - 1)] = '\0';
		if (strcmp(strrchr(m.path, '/') + 1, base))
			continue;
		snprintf(path, len, "%s", m.path);
		snprintf(mapfile, mlen, "/proc/%d/map_files/%llx-%llx", (int)pid, m.start, m.end);
		found = 1;
		*deleted = true;
	}
	fclose(f);
	return found;
}

bool proc_maps_file(pid_t pid, const char *path)
{
	return proc_file_addr(pid, path, ~0ULL) != 0;
}

unsigned long long proc_file_addr(pid_t pid, const char *path, unsigned long long off)
{
	FILE *f;
	char line[PATH_MAX + 128];
	struct maps_line m;
	struct stat st;
	unsigned long long addr = 0;

	if (stat(path, &st) != 0 || !(f = maps_open(pid)))
		return 0;
	while (!addr && fgets(line, sizeof(line), f)) {
		if (!maps_parse(line, &m) || m.ino != st.st_ino ||
		    makedev(m.major, m.minor) != st.st_dev)
			continue;
		if (off == ~0ULL) /* any mapping of the file */
			addr = m.start;
		else if (off >= m.off && off < m.off + (m.end - m.start))
			addr = m.start + (off - m.off);
	}
	fclose(f);
	return addr;
}

int proc_read_mem(pid_t pid, unsigned long long addr, void *buf, size_t len)
{
	char p[32];
	int fd;
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/%d/mem", (int)pid);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return -1;
	n = pread(fd, buf, len, (off_t)addr);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

int proc_exe(pid_t pid, char *path, size_t len)
{
	char p[32];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/%d/exe", (int)pid);
	n = readlink(p, path, len - 1);
	if (n < 0)
		return -1;
	path[n] = '\0';
	return 0;
}

/* The longest NUL-terminated "Apache/<digit>..." string in the file; ""
 * if none. Reads the whole binary once (a few MB at most). */
void proc_apache_version(pid_t pid, char *out, size_t len)
{
	char path[32];
	struct stat st;
	char *buf = NULL, *p;
	int fd;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size < (64 << 20) &&
	    (buf = malloc(st.st_size + 1)) && read(fd, buf, st.st_size) == st.st_size) {
		buf[st.st_size] = '\0';
		for (p = buf; (p = memmem(p, buf + st.st_size - p, "Apache/", 7)); p += 7) {
			size_t n = strnlen(p, PROC_VERSION_LEN);

			if (p[7] >= '0' && p[7] <= '9' && n < len && n > strlen(out) &&
			    (p == buf || p[-1] == '\0'))
				memcpy(out, p, n + 1);
		}
	}
	free(buf);
	close(fd);
}

/* "event" from /path/mod_mpm_event.so, "built-in" if no MPM module. */
void proc_apache_mpm(pid_t pid, char *out, size_t len)
{
	char path[PATH_MAX], *b, *dot;

	if (proc_find_mapping(pid, "mod_mpm_", true, path, sizeof(path)) != 1) {
		snprintf(out, len, "built-in");
		return;
	}
	b = strrchr(path, '/') + strlen("/mod_mpm_");
	dot = strchr(b, '.');
	if (dot)
		*dot = '\0';
	snprintf(out, len, "%s", b);
}
