/*
 * bench_rewrite.c - the cost of rewrites at parse time: `bench_rewrite MODEL DATA REWRITES
 * [LOCALE] [REPEATS]` parses every utterance of DATA (MASSIVE, one locale, default en-US)
 * with one session three ways: mille_parse; mille_parse_rewrite without a table; and
 * mille_parse_rewrite with the table REWRITES (whose sources it checks first: each must be
 * found, else the timing would be of a table that never matches). Reports the median per
 * utterance of each (thread CPU time), the lookup alone (mille_session_rewrite), and how many
 * utterances the table rewrote. One machine-readable line.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "data.h"
#include "mille.h"

enum { PLAIN, NO_TABLE, TABLE, LOOKUP, N_MODES };

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_rewrite MODEL DATA REWRITES [LOCALE] [REPEATS]\n");
        return 2;
    }
    const char *locale = argc > 4 ? argv[4] : "en-US";
    long reps = 5;
    if (argc > 5 && parse_long(argv[5], 1, 50, &reps)) return 2;
    mille_error err;
    mille_model *m;
    mille_session *s;
    mille_rewrites *rw;
    if (mille_model_load(argv[1], &m, &err) < 0 || mille_session_new(m, &s, &err) < 0 ||
        mille_rewrites_load(argv[3], &rw, &err) < 0) {
        fprintf(stderr, "bench_rewrite: %s\n", err.msg);
        return 1;
    }
    data_set ds = {0};
    data_opts o = data_default_opts();
    o.mode = DATA_TEXT;
    o.locales = locale;
    if (data_load(&ds, argv[2], &o, &err) < 0 || ds.n == 0) {
        fprintf(stderr, "bench_rewrite: %s\n", ds.n ? err.msg : "no utterances");
        return 1;
    }
    double t[N_MODES][64];
    size_t rewritten = 0;
    mille_result r;
    for (long k = 0; k < reps; k++)
        for (int mode = 0; mode < N_MODES; mode++) {
            mille_session_set_rewrites(s, mode >= TABLE ? rw : NULL);
            size_t n_rw = 0;
            double t0 = bench_thread_cpu();
            for (size_t i = 0; i < ds.n; i++) {
                const char *u = data_str(&ds, ds.recs[i].utt);
                size_t len = ds.recs[i].utt_len;
                int rc = mode == PLAIN ? mille_parse(s, u, len, locale, &r, &err)
                         : mode == LOOKUP
                             ? mille_session_rewrite(s, u, len, locale, NULL) != NULL
                             : mille_parse_rewrite(s, u, len, locale, &r, NULL, NULL, &err);
                if (rc < 0) {
                    fprintf(stderr, "bench_rewrite: %s\n", err.msg);
                    return 1;
                }
                n_rw += rc == 1;
            }
            t[mode][k] = (bench_thread_cpu() - t0) / (double)ds.n;
            if (mode == TABLE) rewritten = n_rw;
        }
    for (int mode = 0; mode < N_MODES; mode++)
        qsort(t[mode], (size_t)reps, sizeof(double), bench_cmp_double);
    printf("bench=rewrite locale=%s utterances=%zu rewrites=%zu rewritten=%zu "
           "parse_us=%.2f parse_rewrite_no_table_us=%.2f parse_rewrite_table_us=%.2f "
           "lookup_us=%.3f\n",
           locale, ds.n, mille_rewrites_count(rw), rewritten, 1e6 * t[PLAIN][reps / 2],
           1e6 * t[NO_TABLE][reps / 2], 1e6 * t[TABLE][reps / 2], 1e6 * t[LOOKUP][reps / 2]);
    data_free(&ds);
    mille_rewrites_free(rw);
    mille_session_free(s);
    mille_model_free(m);
    return 0;
}
