/*
 * module.c - which mod_dtprovider.so a subcommand traces: -m, else the
 * module the -p process or running servers map (a copy replaced on disk
 * since it was loaded included), else the installed one; and whether it
 * has the httpd probes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "probes.h"
#include "proc.h"
#include "trace.h"
#include "module.h"

#define MAX_FOUND 4

/* ---------------------------------------------------------------------------
 * Finding the module
 * ------------------------------------------------------------------------- */
/* The distinct modules running processes map. A module replaced on disk
 * since Apache loaded it (a reinstall while it ran) is still mapped, as
 * "PATH (deleted)": it counts as its own entry, reachable through the
 * /proc/PID/map_files link of the first process seen with it (the kernel
 * attaches uprobes by inode, so that path reaches every process mapping the
 * old copy). */
struct found {
	struct found_module {
		char path[PATH_MAX];    /* the name it was loaded as */
		char mapfile[PATH_MAX]; /* a path that opens it: path, or map_files */
		bool deleted;
		pid_t pid;
	} v[MAX_FOUND];
	int n;
	const char *only; /* only modules loaded under this name, or NULL */
};

static int found_add(pid_t pid, void *ctx)
{
	struct found *f = ctx;
	struct found_module m;

	if (proc_find_module(pid, TRACE_MODULE_NAME, m.path, sizeof(m.path), &m.deleted,
			     m.mapfile, sizeof(m.mapfile)) != 1)
		return 0;
	if (f->only && strcmp(f->only, m.path))
		return 0;
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].path, m.path) && f->v[i].deleted == m.deleted)
			return 0;
	m.pid = pid;
	if (f->n < MAX_FOUND)
		f->v[f->n++] = m;
	return 0;
}

struct mapped {
	const char *path;
	int n;
};

static int mapped_count(pid_t pid, void *ctx)
{
	struct mapped *m = ctx;

	if (proc_maps_file(pid, m->path))
		m->n++;
	return 0;
}

/* Say what a module replaced on disk means, and trace it if `use`. */
static void use_replaced(struct trace *t, const struct found_module *m, bool use)
{
	if (use) {
		snprintf(t->module, sizeof(t->module), "%s", m->mapfile);
		trace_warn("Apache (pid %d) runs a copy of %s that was replaced on disk after it "
			   "was loaded (a reinstall): tracing that copy through %s; `apachectl "
			   "graceful` loads the new file (then start httpdtrace again)",
			   (int)m->pid, m->path, m->mapfile);
	} else {
		trace_warn("Apache (pid %d) runs a copy of %s that was replaced on disk: it is "
			   "not traced; `apachectl graceful` loads the new file, or trace the old "
			   "copy with -p %d", (int)m->pid, m->path, (int)m->pid);
	}
}

/* -p without -m: the module that process (Apache's parent or a child) maps. */
static int module_of_pid(struct trace *t, pid_t pid)
{
	struct found_module m;

	if (!proc_exists(pid)) {
		trace_err("no process with pid %d", (int)pid);
		return -ESRCH;
	}
	if (proc_find_module(pid, TRACE_MODULE_NAME, m.path, sizeof(m.path), &m.deleted,
			     m.mapfile, sizeof(m.mapfile)) == 1) {
		m.pid = pid;
		if (m.deleted)
			use_replaced(t, &m, true);
		else
			snprintf(t->module, sizeof(t->module), "%s", m.path);
		return 0;
	}
	trace_err("process %d has no %s mapped: is it an Apache with LoadModule "
		  "dtprovider_module? (a2enmod dtprovider)", (int)pid, TRACE_MODULE_NAME);
	return -ENOENT;
}

/* Neither -m nor -p: the one module running servers map, else the one copy
 * of it a server runs after a reinstall, else the installed one. Several
 * different ones are ambiguous: the user picks with -m or -p. */
static int module_of_system(struct trace *t)
{
	struct found f = { .n = 0 };
	int live = 0, dead = 0;
	const struct found_module *l = NULL, *d = NULL;

	proc_each(found_add, &f);
	for (int i = 0; i < f.n; i++) {
		if (f.v[i].deleted)
			dead++, d = d ? d : &f.v[i];
		else
			live++, l = l ? l : &f.v[i];
	}
	if (live > 1 || (!live && dead > 1)) {
		trace_err("%d different %s are mapped (%s, %s%s); pick one with -m PATH or -p PID",
			  f.n, TRACE_MODULE_NAME, f.v[0].path, f.v[1].path, f.n > 2 ? ", ..." : "");
		return -EEXIST;
	}
	if (live == 1) {
		snprintf(t->module, sizeof(t->module), "%s", l->path);
		for (int i = 0; i < f.n; i++)
			if (f.v[i].deleted)
				use_replaced(t, &f.v[i], false);
		return 0;
	}
	if (dead == 1) {
		use_replaced(t, d, true);
		return 0;
	}
	if (access(TRACE_INSTALLED_MODULE, R_OK) == 0) {
		snprintf(t->module, sizeof(t->module), "%s", TRACE_INSTALLED_MODULE);
		return 0;
	}
	trace_err("no process has %s mapped and %s does not exist: is the module "
		  "loaded? (a2enmod dtprovider) or give its path with -m PATH",
		  TRACE_MODULE_NAME, TRACE_INSTALLED_MODULE);
	return -ENOENT;
}

/* -m PATH that no process maps while a server runs a replaced copy loaded
 * under that name: that copy is what the user means. */
static void module_or_replaced(struct trace *t)
{
	struct mapped m = { .path = t->module, .n = 0 };
	struct found f = { .n = 0, .only = t->module };

	proc_each(mapped_count, &m);
	if (m.n)
		return;
	proc_each(found_add, &f);
	for (int i = 0; i < f.n; i++)
		if (f.v[i].deleted) {
			use_replaced(t, &f.v[i], true);
			return;
		}
}

static int module_resolve(struct trace *t)
{
	struct probe_note notes[PROBES_MAX];
	int n;

	if (trace_env.module) {
		if (!realpath(trace_env.module, t->module)) {
			trace_err("%s: %s (give the path of mod_dtprovider.so with -m)",
				  trace_env.module, strerror(errno));
			return -errno;
		}
		if (trace_env.pid && !proc_exists(trace_env.pid)) {
			trace_err("no process with pid %d", (int)trace_env.pid);
			return -ESRCH;
		}
		module_or_replaced(t);
	} else {
		n = trace_env.pid ? module_of_pid(t, trace_env.pid) : module_of_system(t);
		if (n)
			return n;
	}
	n = probes_read(t->module, notes, PROBES_MAX);
	if (n < 0) {
		trace_err("%s: %s", t->module,
			  errno == ENOEXEC ? "not an ELF file (is it mod_dtprovider.so?)" :
			  strerror(errno));
		return -ENOEXEC;
	}
	t->nprobes = probes_count(notes, n, TRACE_PROVIDER);
	if (!t->nprobes) {
		trace_err("%s has no %s probes: not mod_dtprovider.so, or built without USDT "
			  "(check with readelf -n)", t->module, TRACE_PROVIDER);
		return -ENOENT;
	}
	if (trace_env.pid && !proc_maps_file(trace_env.pid, t->module)) {
		trace_err("process %d does not map %s: is it an Apache with this module?",
			  (int)trace_env.pid, t->module);
		return -ENOENT;
	}
	return 0;
}

int trace_module_find(struct trace *t)
{
	struct mapped m;
	int err = module_resolve(t);

	if (err)
		return err;
	m.path = t->module;
	m.n = 0;
	proc_each(mapped_count, &m);
	t->nprocs = m.n;
	if (!t->nprocs)
		trace_warn("no running process has %s mapped; tracing it for processes that "
			   "load it later", t->module);
	return 0;
}
