/*
 * module.h - trace_init()'s step that finds the module (module.c).
 */
#ifndef TRACE_MODULE_H
#define TRACE_MODULE_H

struct trace;

/* Resolve t->module (-m; else the module mapped by -p's process or by any
 * process; else the installed TRACE_INSTALLED_MODULE), check it has httpd
 * probes and that -p names a live process that maps it; count the
 * processes that map it (t->nprocs), warning when none does. Returns 0 or a
 * negative errno (said). */
int trace_module_find(struct trace *t);

#endif /* TRACE_MODULE_H */
