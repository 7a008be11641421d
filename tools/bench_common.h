/* Timing helpers of the benchmark programs in tools/. */
#ifndef VTE_TOOLS_BENCH_COMMON_H
#define VTE_TOOLS_BENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "runtime/runtime.h"

static inline double bench_now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static inline int bench_compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v and returns its median. */
static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_compare_doubles);
    return v[n / 2];
}

/* Forgets the device times collected so far (VITEXPLAIN_PROFILE=1). */
static inline void bench_reset_profile(vte_runtime *rt) {
    for (size_t i = 0; i < rt->profile_count; i++) rt->profile[i].ms = 0, rt->profile[i].calls = 0;
    rt->profile_count = 0;
}

/* With VITEXPLAIN_PROFILE=1: the device time per operation collected since the last reset, then resets. */
static inline void bench_print_profile(vte_runtime *rt, const char *title) {
    if (!rt->profiling) return;
    double total = 0;
    for (size_t i = 0; i < rt->profile_count; i++) total += rt->profile[i].ms;
    printf("profile (%s, %zu operations, %.1f ms):\n", title, rt->profile_count, total);
    for (size_t i = 0; i < rt->profile_count; i++)
        printf("  %-48s %6ld calls %9.1f ms %5.1f%%\n", rt->profile[i].name, rt->profile[i].calls, rt->profile[i].ms,
               100.0 * rt->profile[i].ms / total);
    bench_reset_profile(rt);
}

#endif
