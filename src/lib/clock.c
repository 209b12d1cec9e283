/*
 * clock.c - the clocks of httpdtrace (see clock.h): CLOCK_MONOTONIC, which
 * bpf_ktime_get_ns() reads, its one conversion to wall-clock time, and a
 * sleep that a signal cuts short.
 */
#include <time.h>
#include "clock.h"
#include "fmt.h"
#include "msg.h"

void trace_sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	if (!trace_exiting)
		nanosleep(&ts, NULL); /* a signal ends it early */
}

unsigned long long trace_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

char *trace_wallclock(char *buf, size_t len, unsigned long long mono_ns)
{
	struct timespec rt, mono;
	long long offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC, now */

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	offset_ns = (rt.tv_sec - mono.tv_sec) * 1000000000LL + (rt.tv_nsec - mono.tv_nsec);
	return fmt_clock(buf, len, (unsigned long long)((long long)mono_ns + offset_ns) / 1000ULL);
}
