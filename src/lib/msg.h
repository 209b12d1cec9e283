/*
 * msg.h - httpdtrace's messages and the flags that end a run.
 *
 * Every message is one line on stderr, "httpdtrace: ..." (warnings
 * "httpdtrace: warning: ..."), saying what went wrong and what to do.
 * stdout is flushed first, so that a terminal shows both in order.
 */
#ifndef MSG_H
#define MSG_H

#include <signal.h>

/* Set by SIGINT/SIGTERM, and when stdout is a closed pipe (then the exit is
 * quiet and 0: see trace_epipe). */
extern volatile sig_atomic_t trace_exiting;
extern volatile sig_atomic_t trace_epipe;

void trace_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void trace_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* MSG_H */
