/*
 * msg.c - httpdtrace's one-line messages on stderr and the flags that end a
 * run (see msg.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include "msg.h"

volatile sig_atomic_t trace_exiting;
volatile sig_atomic_t trace_epipe;

/* ---------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------- */
static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
	fflush(stdout); /* keep the order of what a terminal shows */
	fprintf(stderr, "httpdtrace: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void trace_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

void trace_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}
