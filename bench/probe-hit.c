/*
 * probe-hit.c: the cost of one probe hit, for `make bench`.
 *
 * Fires httpd:request__done in a loop exactly as mod_dtprovider does (the
 * same provider header, the same is-enabled test, the same probe macro and
 * the same kind of site, from module/sdt_nop5.h), or calls a bare function
 * whose first instruction is the 5-byte nop the kernel's uprobe optimizer
 * accepts: a plain uprobe on it is the cheapest hit the kernel offers (the
 * floor the USDT site is compared with). Both run in the same process, in
 * alternating chunks; the bench runs it untraced and under a counting tracer
 * and gets the median nanoseconds per hit of each.
 *
 * Built twice: probe-hit (sites as in the module) and probe-hit-nop1
 * (-DDTP_SDT_NOP1: sys/sdt.h's 1-byte nop), so the gain of the 5-byte site
 * is measured too.
 *
 *   probe-hit HITS CHUNKS
 *   prints, for mode=bare and mode=usdt:
 *   mode=.. site_bytes=.. hits=N ns_per_hit=(wall) cpu_ns_per_hit=..
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* As in the module: dtrace -h headers are guarded by _DTRACE_VERSION, and
 * the arguments are registers or constants, never stack slots. */
#undef _DTRACE_VERSION
#define _DTRACE_VERSION 1
#if defined(__x86_64__) || defined(__aarch64__)
#define STAP_SDT_ARG_CONSTRAINT nr
#endif
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

/* Per-hit cost of one chunk of `n` hits of the bare site (bare != 0) or of
 * request-done, in wall and thread-CPU nanoseconds. */
static void run_chunk(int bare, uint64_t first, uint64_t n,
                      const struct httpd_request_info *info,
                      double *wall, double *cpu)
{
    double t0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    uint64_t i;

    if (bare) {
        for (i = 0; i < n; i++) {
            probe_hit_bare_site();
        }
    }
    else {
        for (i = 0; i < n; i++) {
            fire_request_done(first + i, info);
        }
    }
    *cpu = (clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / (double)n;
    *wall = (clock_ns(CLOCK_MONOTONIC) - t0) / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MAX_CHUNKS 1000

int main(int argc, char **argv)
{
    static const char method[] = "GET", uri[] = "/static.html";
    static double wall[2][MAX_CHUNKS], cpu[2][MAX_CHUNKS];
    struct httpd_request_info info;
    uint64_t n, per;
    int chunks, c, k;

    if (argc != 3 || (n = strtoull(argv[1], NULL, 10)) == 0
        || (chunks = atoi(argv[2])) <= 0 || chunks > MAX_CHUNKS
        || (per = n / (uint64_t)chunks) == 0) {
        fprintf(stderr, "usage: probe-hit HITS CHUNKS (1 to %d chunks)\n",
                MAX_CHUNKS);
        return 2;
    }
    memset(&info, 0, sizeof(info));
    info.version = HTTPD_REQUEST_INFO_VERSION;
    info.size = sizeof(info);
    info.status = 200;
    info.latency_us = 100;
    info.method = (uintptr_t)method;
    info.uri = (uintptr_t)uri;

    /* Chunks of the two sites alternate (bare first, then usdt first), so
     * both see the same machine: a busy neighbour or a frequency change
     * lands on both. */
    for (c = 0; c < chunks; c++) {
        for (k = 0; k < 2; k++) {
            int bare = (k + c) % 2 == 0;

            run_chunk(bare, (uint64_t)c * per + 1, per, &info,
                      &wall[bare][c], &cpu[bare][c]);
        }
    }
    for (k = 1; k >= 0; k--) {
        printf("mode=%s site_bytes=%d hits=%llu ns_per_hit=%.1f "
               "cpu_ns_per_hit=%.1f\n", k ? "bare" : "usdt",
               k ? 5 : DTP_SDT_SITE_BYTES,
               (unsigned long long)(per * (uint64_t)chunks),
               median(wall[k], chunks), median(cpu[k], chunks));
    }
    return 0;
}
