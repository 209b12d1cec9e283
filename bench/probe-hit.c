/*
 * probe-hit.c: the cost of one probe hit, for `make bench`.
 *
 * Fires httpd:request__done in a loop exactly as mod_dtprovider does (the
 * same provider header, the same is-enabled test, the same probe macro and
 * the same kind of site, from module/sdt_nop5.h), or calls a bare function
 * whose first instruction is the 5-byte nop the kernel's uprobe optimizer
 * accepts: a plain uprobe on it is the cheapest hit the kernel offers (the
 * floor the USDT site is compared with). The bench runs it untraced and
 * under a counting tracer and prints nanoseconds per loop iteration.
 *
 * Built twice: probe-hit (sites as in the module) and probe-hit-nop1
 * (-DDTP_SDT_NOP1: sys/sdt.h's 1-byte nop), so the gain of the 5-byte site
 * is measured too.
 *
 *   probe-hit usdt|bare N
 *   prints: mode=.. site_bytes=.. hits=N ns_per_hit=(wall) cpu_ns_per_hit=..
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* As in the module: dtrace -h headers are guarded by _DTRACE_VERSION. */
#undef _DTRACE_VERSION
#define _DTRACE_VERSION 1
#include "httpd_provider.h"
#include "sdt_nop5.h"

#include "mod_dtprovider.h"

/* The bare site: a function whose first instruction is the optimizable
 * 5-byte nop, so `uprobe:probe-hit:probe_hit_bare_site` lands on it. */
__attribute__((naked, noinline, used)) void probe_hit_bare_site(void)
{
    __asm__ volatile(".byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n\tret\n");
}

/* One request-done as the module's log_transaction hook fires it: test the
 * semaphore, then the probe with its six arguments. noinline keeps one call
 * per iteration, like the bare loop. */
__attribute__((noinline)) static void fire_request_done(
    uint64_t id, const struct httpd_request_info *info)
{
    if (HTTPD_REQUEST_DONE_ENABLED()) {
        HTTPD_REQUEST_DONE(id, info->status, info->latency_us,
                           (const char *)(uintptr_t)info->method,
                           (const char *)(uintptr_t)info->uri,
                           (struct httpd_request_info *)info);
    }
}

/* A clock in nanoseconds: CLOCK_MONOTONIC for wall time, or
 * CLOCK_THREAD_CPUTIME_ID for this thread's CPU time, which includes the
 * kernel's uprobe handling (it runs in this thread's context) but not the
 * time other processes of a busy machine take the CPU. */
static double clock_ns(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    static const char method[] = "GET", uri[] = "/static.html";
    struct httpd_request_info info;
    uint64_t i, n;
    double t0, t1, c0, c1;
    int bare;

    if (argc != 3 || (strcmp(argv[1], "usdt") && strcmp(argv[1], "bare"))
        || (n = strtoull(argv[2], NULL, 10)) == 0) {
        fprintf(stderr, "usage: probe-hit usdt|bare N\n");
        return 2;
    }
    bare = strcmp(argv[1], "bare") == 0;
    memset(&info, 0, sizeof(info));
    info.version = HTTPD_REQUEST_INFO_VERSION;
    info.size = sizeof(info);
    info.status = 200;
    info.latency_us = 100;
    info.method = (uintptr_t)method;
    info.uri = (uintptr_t)uri;

    t0 = clock_ns(CLOCK_MONOTONIC);
    c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    if (bare) {
        for (i = 0; i < n; i++) {
            probe_hit_bare_site();
        }
    }
    else {
        for (i = 0; i < n; i++) {
            fire_request_done(i + 1, &info);
        }
    }
    c1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    t1 = clock_ns(CLOCK_MONOTONIC);
    printf("mode=%s site_bytes=%d hits=%llu ns_per_hit=%.1f cpu_ns_per_hit=%.1f\n",
           argv[1], bare ? 5 : DTP_SDT_SITE_BYTES, (unsigned long long)n,
           (t1 - t0) / (double)n, (c1 - c0) / (double)n);
    return 0;
}
