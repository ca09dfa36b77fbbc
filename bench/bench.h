/* bench.h - what the benchmark programs share: a monotonic clock, a comparator for medians
 * and the model loader. Header-only; each benchmark is one .c file. */
#ifndef MILLE_BENCH_H
#define MILLE_BENCH_H

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mille.h"

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the calling thread: time spent waiting for a core shared with other jobs is
 * not in it. */
static inline double bench_thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Load the model spec ("a.model", or "a.model+b.model" for an ensemble) and a session; 0, or
 * 1 after printing "WHO: why" to stderr. */
static inline int bench_load_model(const char *spec, const char *who, mille_model **m,
                                   mille_session **s)
{
    char names[4096];
    const char *paths[MILLE_MAX_ENSEMBLE];
    size_t n_paths = 0;
    snprintf(names, sizeof names, "%s", spec);
    for (char *q = names; q && n_paths < MILLE_MAX_ENSEMBLE;) {
        paths[n_paths++] = q;
        if ((q = strchr(q, '+'))) *q++ = '\0';
    }
    mille_error err;
    if (mille_model_load_ensemble(paths, n_paths, m, &err) < 0 ||
        mille_session_new(*m, s, &err) < 0) {
        fprintf(stderr, "%s: %s\n", who, err.msg);
        return 1;
    }
    return 0;
}

#endif
