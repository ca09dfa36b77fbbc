/*
 * bench_data.c - time reading and parsing MASSIVE: `bench_data PATH [REPEATS]` loads PATH
 * (file, directory or archive) REPEATS times (default 3), checks the counts agree across
 * runs, and prints one machine-readable line with the median time and records/s.
 * `bench_data --dump PATH` instead prints "locale<TAB>id<TAB>word|label ..." per record, for
 * cross-checking against the official preparation code (tests/ref/).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "data.h"

static void on_skip(void *ud, const mille_error *e)
{
    (void)ud;
    fprintf(stderr, "skip: %s\n", e->msg);
}

int main(int argc, char **argv)
{
    data_opts o = data_default_opts();
    o.on_skip = on_skip;
    mille_error err;
    if (argc == 3 && strcmp(argv[1], "--dump") == 0) {
        data_set ds = {0};
        if (data_load(&ds, argv[2], &o, &err) < 0) {
            fprintf(stderr, "bench_data: %s\n", err.msg);
            return 1;
        }
        for (size_t i = 0; i < ds.n; i++) {
            const data_record *r = &ds.recs[i];
            const char *utt = data_str(&ds, r->utt);
            printf("%s\t%s\t", strtab_str(&ds.locales, r->locale), data_str(&ds, r->id));
            for (uint32_t k = 0; k < r->n_words; k++) {
                const data_word *w = &ds.words[r->word0 + k];
                printf("%s%.*s|%s", k ? " " : "", (int)(w->end - w->start), utt + w->start,
                       strtab_str(&ds.slots, w->label));
            }
            printf("\n");
        }
        data_free(&ds);
        return 0;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: bench_data PATH [REPEATS] | bench_data --dump PATH\n");
        return 2;
    }
    long reps = 3;
    if (argc > 2 && parse_long(argv[2], 1, 100, &reps)) {
        fprintf(stderr, "bench_data: REPEATS must be 1..100\n");
        return 2;
    }
    double t[100];
    size_t n = 0, nw = 0, bytes = 0;
    for (int r = 0; r < reps; r++) {
        data_set ds = {0};
        double t0 = bench_now();
        if (data_load(&ds, argv[1], &o, &err) < 0) {
            fprintf(stderr, "bench_data: %s\n", err.msg);
            return 1;
        }
        t[r] = bench_now() - t0;
        if (r && (ds.n != n || ds.n_words != nw)) {
            fprintf(stderr, "bench_data: runs disagree\n");
            return 1;
        }
        n = ds.n;
        nw = ds.n_words;
        bytes = ds.str.len;
        data_free(&ds);
    }
    qsort(t, (size_t)reps, sizeof t[0], bench_cmp_double);
    double med = t[reps / 2];
    printf("bench=data_load path=%s records=%zu words=%zu text_bytes=%zu median_s=%.3f "
           "records_per_s=%.0f runs=%ld\n",
           argv[1], n, nw, bytes, med, (double)n / med, reps);
    return 0;
}
