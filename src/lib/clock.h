/*
 * clock.h - httpdtrace's clocks: events carry bpf_ktime_get_ns(), which is
 * CLOCK_MONOTONIC; wall-clock time is made from it in one place.
 */
#ifndef CLOCK_H
#define CLOCK_H

#include <stddef.h>

/* Nanoseconds of CLOCK_MONOTONIC (the clock of bpf_ktime_get_ns()). */
unsigned long long trace_now_ns(void);

/* The one conversion to wall-clock time: "HH:MM:SS.mmm", local time, of the
 * CLOCK_MONOTONIC instant mono_ns (an event's bpf_ktime_get_ns()), through
 * the offset between the two clocks now. Returns buf. */
char *trace_wallclock(char *buf, size_t len, unsigned long long mono_ns);

/* Sleep up to `ms` unless trace_exiting is set (wakes early on signals). */
void trace_sleep_ms(unsigned int ms);

#endif /* CLOCK_H */
