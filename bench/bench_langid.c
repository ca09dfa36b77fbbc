/*
 * bench_langid.c - the cost of language identification: `bench_langid MODEL DATA [REPEATS]`
 * parses every utterance of DATA (MASSIVE; the dev partition) with one session three ways,
 * REPEATS times each (default 3): with its locale given, without one (mille_parse with
 * locale NULL: identified first, then parsed), and identification alone (mille_identify).
 * Before timing, one pass checks the model has a head and counts how often the identified
 * locale is the record's and how often the parse without a locale is the parse with it
 * (same intent and annotation). Rates are per second of this thread's CPU time (the machine
 * is shared; waiting for a core is not ours). Prints one machine-readable line.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "data.h"
#include "mille.h"

enum { MODE_GIVEN, MODE_AUTO, MODE_IDENTIFY, MODES };

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_langid MODEL DATA [REPEATS]\n");
        return 2;
    }
    long reps = 3;
    if (argc > 3 && parse_long(argv[3], 1, 50, &reps)) {
        fprintf(stderr, "bench_langid: REPEATS must be 1..50\n");
        return 2;
    }
    mille_error err;
    mille_model *m;
    mille_session *s;
    if (bench_load_model(argv[1], "bench_langid", &m, &s)) return 1;
    if (!mille_model_has_langid(m)) {
        fprintf(stderr, "bench_langid: %s has no language-identification head\n", argv[1]);
        return 1;
    }
    data_set ds = {0};
    data_opts o = data_default_opts();
    o.mode = DATA_TEXT;
    o.partitions = "dev";
    if (data_load(&ds, argv[2], &o, &err) < 0) {
        fprintf(stderr, "bench_langid: %s\n", err.msg);
        return 1;
    }
    /* correctness first */
    size_t right = 0, same = 0;
    char *annot = NULL;
    for (size_t i = 0; i < ds.n; i++) {
        const data_record *r = &ds.recs[i];
        const char *utt = data_str(&ds, r->utt), *loc = strtab_str(&ds.locales, r->locale);
        mille_result a, b;
        if (mille_parse(s, utt, r->utt_len, loc, &a, &err) < 0) {
            fprintf(stderr, "bench_langid: record %zu: %s\n", i, err.msg);
            return 1;
        }
        const char *intent = a.intent;
        free(annot);
        annot = strdup(a.annot_utt);
        if (mille_parse(s, utt, r->utt_len, NULL, &b, &err) < 0) {
            fprintf(stderr, "bench_langid: record %zu: %s\n", i, err.msg);
            return 1;
        }
        const char *found = mille_session_locale(s, 0, NULL);
        right += found && strcmp(found, loc) == 0;
        same += b.intent == intent && annot && strcmp(annot, b.annot_utt) == 0;
    }
    free(annot);
    double rate[MODES][50];
    for (int mode = 0; mode < MODES; mode++)
        for (long k = 0; k < reps; k++) {
            double c0 = bench_thread_cpu();
            for (size_t i = 0; i < ds.n; i++) {
                const data_record *r = &ds.recs[i];
                const char *utt = data_str(&ds, r->utt);
                mille_result res;
                mille_locale_score top;
                if (mode == MODE_IDENTIFY)
                    mille_identify(s, utt, r->utt_len, &top, 1, &err);
                else
                    mille_parse(s, utt, r->utt_len,
                                mode == MODE_GIVEN ? strtab_str(&ds.locales, r->locale) : NULL,
                                &res, &err);
            }
            rate[mode][k] = (double)ds.n / (bench_thread_cpu() - c0);
        }
    for (int mode = 0; mode < MODES; mode++)
        qsort(rate[mode], (size_t)reps, sizeof rate[mode][0], bench_cmp_double);
    double given = rate[MODE_GIVEN][reps / 2], autor = rate[MODE_AUTO][reps / 2];
    printf("bench=langid model=%s utterances=%zu locale_acc=%.2f same_parse=%.2f threads=1 "
           "given_cpu_utt_per_s=%.0f auto_cpu_utt_per_s=%.0f identify_cpu_utt_per_s=%.0f "
           "added_us_per_utt=%.1f runs=%ld\n",
           argv[1], ds.n, 100.0 * (double)right / (double)ds.n, 100.0 * (double)same / (double)ds.n,
           given, autor, rate[MODE_IDENTIFY][reps / 2], 1e6 * (1.0 / autor - 1.0 / given), reps);
    data_free(&ds);
    mille_session_free(s);
    mille_model_free(m);
    return 0;
}
