/*
 * bench_infer.c - single-thread inference rate of the public API: `bench_infer MODEL DATA
 * [REPEATS]` parses every utterance of DATA (MASSIVE, e.g. the dev partition) with one
 * session, REPEATS times (default 3). Before timing, one pass checks that every utterance
 * parses and counts intent accuracy against the gold labels (a wrong model or input shows).
 * Prints one machine-readable line: median utterances/s (wall clock, and per second of this
 * thread's CPU time: the rate a core of our own would give, on a machine shared with other
 * jobs that preempt us), p50/p99 per-utterance latency,
 * and the median rate of the same utterances through mille_parse_batch, 32 at a time.
 * With an int8 model, Q8_KERNEL=reference|avx2|avx512vnni in the environment picks the
 * integer kernel (default: the best this CPU has); the line names the kernel used.
 * MODEL may be an ensemble, its files joined by '+' ("a.model+b.model").
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "data.h"
#include "mille.h"
#include "quant.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_infer MODEL DATA [REPEATS] [PARTITION]\n");
        return 2;
    }
    long reps = 3;
    if (argc > 3 && parse_long(argv[3], 1, 50, &reps)) {
        fprintf(stderr, "bench_infer: REPEATS must be 1..50\n");
        return 2;
    }
    const char *kern = getenv("Q8_KERNEL");
    if (kern && *kern) {
        int k = 0;
        while (k < Q8_NKERNELS && strcmp(q8_kernel_name(k), kern) != 0) k++;
        if (q8_set_kernel(k) < 0) {
            fprintf(stderr, "bench_infer: Q8_KERNEL=%s is not a kernel this CPU runs\n", kern);
            return 2;
        }
    }
    mille_error err;
    mille_model *m;
    mille_session *s;
    if (bench_load_model(argv[1], "bench_infer", &m, &s)) return 1;
    data_set ds = {0};
    data_opts o = data_default_opts();
    o.partitions = argc > 4 ? argv[4] : "dev";
    if (data_load(&ds, argv[2], &o, &err) < 0) {
        fprintf(stderr, "bench_infer: %s\n", err.msg);
        return 1;
    }
    size_t ok = 0;
    for (size_t i = 0; i < ds.n; i++) {
        const data_record *r = &ds.recs[i];
        mille_result res;
        if (mille_parse(s, data_str(&ds, r->utt), r->utt_len, strtab_str(&ds.locales, r->locale),
                        &res, &err) < 0) {
            fprintf(stderr, "bench_infer: record %zu: %s\n", i, err.msg);
            return 1;
        }
        ok += strcmp(res.intent, strtab_str(&ds.intents, r->intent)) == 0;
    }
    double *lat = malloc(ds.n * sizeof *lat), rate[50], cpu_rate[50];
    for (long k = 0; k < reps; k++) {
        double t0 = bench_now(), c0 = bench_thread_cpu();
        for (size_t i = 0; i < ds.n; i++) {
            const data_record *r = &ds.recs[i];
            mille_result res;
            double a = bench_now();
            mille_parse(s, data_str(&ds, r->utt), r->utt_len, strtab_str(&ds.locales, r->locale),
                        &res, &err);
            lat[i] = bench_now() - a;
        }
        rate[k] = (double)ds.n / (bench_now() - t0);
        cpu_rate[k] = (double)ds.n / (bench_thread_cpu() - c0);
    }
    /* the same utterances through mille_parse_batch, 32 at a time, in the same run */
    enum { BATCH = 32 };
    double brate[50];
    mille_input in[BATCH];
    mille_result res[BATCH];
    for (long k = 0; k < reps; k++) {
        double t0 = bench_now();
        for (size_t i = 0; i < ds.n; i += BATCH) {
            size_t n = ds.n - i < BATCH ? ds.n - i : BATCH;
            for (size_t q = 0; q < n; q++) {
                const data_record *r = &ds.recs[i + q];
                in[q] = (mille_input){data_str(&ds, r->utt), r->utt_len,
                                      strtab_str(&ds.locales, r->locale)};
            }
            if (mille_parse_batch(s, in, n, res, NULL) != (int)n) {
                fprintf(stderr, "bench_infer: batch at %zu failed\n", i);
                return 1;
            }
        }
        brate[k] = (double)ds.n / (bench_now() - t0);
    }
    qsort(brate, (size_t)reps, sizeof brate[0], bench_cmp_double);
    qsort(rate, (size_t)reps, sizeof rate[0], bench_cmp_double);
    qsort(cpu_rate, (size_t)reps, sizeof cpu_rate[0], bench_cmp_double);
    qsort(lat, ds.n, sizeof *lat, bench_cmp_double);
    printf(
        "bench=infer model=%s utterances=%zu intent_acc=%.2f threads=1 median_utt_per_s=%.0f "
        "cpu_utt_per_s=%.0f p50_us=%.1f p99_us=%.1f batch%d_utt_per_s=%.0f runs=%ld q8_kernel=%s\n",
        argv[1], ds.n, 100.0 * (double)ok / (double)ds.n, rate[reps / 2], cpu_rate[reps / 2],
        1e6 * lat[ds.n / 2], 1e6 * lat[ds.n * 99 / 100], BATCH, brate[reps / 2], reps,
        q8_kernel_name(q8_kernel_active()));
    free(lat);
    data_free(&ds);
    mille_session_free(s);
    mille_model_free(m);
    return 0;
}
