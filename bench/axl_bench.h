/* axl_bench.h - the shared shape of every bench program's output. */
#ifndef AXL_BENCH_H
#define AXL_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* One result row, the JSON line bench/run reads. */
static inline void axl_bench_row(const char *name, double value, const char *unit)
{
    printf("{\"name\":\"%s\",\"value\":%.6g,\"unit\":\"%s\"}\n", name, value, unit);
    fflush(stdout);
}

static inline double axl_bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int axl_bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile q in [0,1] of v[0..n) by sorting v in place (nearest-rank, linear blend). */
static inline double axl_bench_quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof(double), axl_bench_cmp_double);
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    double frac = pos - (double)i;
    return i + 1 < n ? v[i] * (1.0 - frac) + v[i + 1] * frac : v[n - 1];
}

#endif
