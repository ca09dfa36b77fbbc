/* test_codeswitch.c - code-switching during training (codeswitch.h): a golden copy with every
 * known phrase swapped (labels carried, phrases matched longest first and never across a
 * slot boundary, a translation into a character-split locale split into characters), label
 * runs kept for every epoch, copies reproducible for (seed, epoch, record, copy) and
 * different across epochs, and training with it bit-identical for 1 and 2 threads and
 * across a resume from a checkpoint. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codeswitch.h"
#include "harness.h"
#include "train.h"

static const char *const rec_line =
    "{\"id\":\"1\",\"locale\":\"en-US\",\"partition\":\"train\",\"scenario\":\"alarm\","
    "\"intent\":\"alarm_set\",\"utt\":\"wake me up at five am this week\","
    "\"annot_utt\":\"wake me up at [time : five am] [date : this week]\"}";

/* "am this" would cross the time/date boundary: it must never be used */
static const char *const es_tsv = "wake\tdespierta\nat\ta las\nfive am\tcinco de la mañana\n"
                                  "five\tcinco\nthis week\testa semana\nam this\tNUNCA\n";
static const char *const ja_tsv = "five am\t午前五時\nwake\t起こして\n";

static void one_lexicon(cs_set *cs, const char *tsv, const char *locale, float rate)
{
    mille_error e;
    memset(cs, 0, sizeof *cs);
    cs->lex = calloc(1, sizeof *cs->lex);
    cs->n = 1;
    cs->rate = rate;
    cs->seed = 7;
    snprintf(cs->lex[0].locale, sizeof cs->lex[0].locale, "%s", locale);
    cs->lex[0].char_split = annot_char_split(locale, strlen(locale));
    CHECK_INT(lexicon_add_tsv(&cs->lex[0].lx, tsv, strlen(tsv), "t.tsv", NULL, &e), 0);
}

/* "word/label word/label ..." of the copy in sc (label names from ds). */
static void render(const data_set *ds, const cs_scratch *sc, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t k = 0; k < sc->n_words && o < cap; k++) {
        const data_word *w = &sc->words[k];
        o += (size_t)snprintf(out + o, cap - o, "%s%.*s/%s", k ? " " : "", (int)(w->end - w->start),
                              sc->text + w->start,
                              w->label ? strtab_str(&ds->slots, w->label) : "O");
    }
}

static void load_record(data_set *ds)
{
    data_opts o = data_default_opts();
    mille_error e;
    memset(ds, 0, sizeof *ds);
    CHECK_INT(data_add_line(ds, rec_line, strlen(rec_line), 0, 1, &o, &e), 1);
}

TEST(codeswitch_golden_copy)
{
    data_set ds;
    load_record(&ds);
    cs_scratch sc = {0};
    mille_error e;
    char buf[1024];
    /* rate 1: every phrase the lexicon knows is swapped, longest first */
    cs_set cs;
    one_lexicon(&cs, es_tsv, "es-ES", 1.0f);
    CHECK_INT(cs_record(&cs, &ds, 0, 0, 1, &sc, &e), 0);
    render(&ds, &sc, buf, sizeof buf);
    CHECK_STR(buf, "despierta/O me/O up/O a/O las/O cinco/time de/time la/time mañana/time "
                   "esta/date semana/date");
    CHECK_INT(sc.swapped, 6); /* wake, at, five am, this week */
    CHECK_STR(sc.locale, "es-ES");
    CHECK(strstr(sc.text, "NUNCA") == NULL);
    /* the words' offsets are the text's */
    CHECK_STR(sc.text, "despierta me up a las cinco de la mañana esta semana");
    cs_free(&cs);
    /* rate 0: the record as it is */
    one_lexicon(&cs, es_tsv, "es-ES", 0.0f);
    CHECK_INT(cs_record(&cs, &ds, 0, 3, 1, &sc, &e), 0);
    render(&ds, &sc, buf, sizeof buf);
    CHECK_STR(buf, "wake/O me/O up/O at/O five/time am/time this/date week/date");
    CHECK_INT(sc.swapped, 0);
    cs_free(&cs);
    /* a character-split target: one word per character, as MASSIVE's ja-JP records */
    one_lexicon(&cs, ja_tsv, "ja-JP", 1.0f);
    CHECK_INT(cs_record(&cs, &ds, 0, 0, 1, &sc, &e), 0);
    render(&ds, &sc, buf, sizeof buf);
    CHECK_STR(buf, "起/O こ/O し/O て/O me/O up/O at/O 午/time 前/time 五/time 時/time this/date "
                   "week/date");
    cs_free(&cs);
    cs_scratch_free(&sc);
    data_free(&ds);
}

/* Label runs of a sequence of words: "O time date" for the record above. */
static void runs(const data_word *w, size_t n, uint32_t *out, size_t *k)
{
    *k = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || w[i].label != w[i - 1].label) out[(*k)++] = w[i].label;
}

TEST(codeswitch_resamples_by_epoch_reproducibly)
{
    data_set ds;
    load_record(&ds);
    const data_record *rec = &ds.recs[0];
    uint32_t src_runs[16], cp_runs[64];
    size_t n_src, n_cp;
    runs(ds.words + rec->word0, rec->n_words, src_runs, &n_src);
    cs_set cs;
    one_lexicon(&cs, es_tsv, "es-ES", 0.5f);
    cs_scratch a = {0}, b = {0};
    mille_error e;
    char first[512] = "";
    int differ = 0;
    for (uint64_t epoch = 0; epoch < 12; epoch++) {
        CHECK_INT(cs_record(&cs, &ds, 0, epoch, 1, &a, &e), 0);
        /* the same (seed, epoch, record, copy) again, after another copy: the same text */
        CHECK_INT(cs_record(&cs, &ds, 0, epoch + 100, 2, &b, &e), 0);
        CHECK_INT(cs_record(&cs, &ds, 0, epoch, 1, &b, &e), 0);
        CHECK_STR(a.text, b.text);
        CHECK_INT(a.n_words, b.n_words);
        CHECK(memcmp(a.words, b.words, a.n_words * sizeof *a.words) == 0);
        /* labels stay aligned: the label runs are the source's */
        runs(a.words, a.n_words, cp_runs, &n_cp);
        CHECK_INT(n_cp, n_src);
        CHECK(memcmp(cp_runs, src_runs, n_src * sizeof *src_runs) == 0);
        for (size_t k = 0; k < a.n_words; k++)
            CHECK(a.words[k].end > a.words[k].start && a.words[k].end <= a.len);
        if (epoch == 0)
            snprintf(first, sizeof first, "%s", a.text);
        else if (strcmp(first, a.text) != 0)
            differ = 1;
    }
    CHECK(differ); /* 12 epochs at rate 0.5 all alike: about 2^-44 */
    /* another seed makes other copies */
    CHECK_INT(cs_record(&cs, &ds, 0, 0, 1, &a, &e), 0);
    cs.seed = 8;
    differ = 0;
    for (uint64_t epoch = 0; epoch < 12 && !differ; epoch++) {
        cs.seed = 7;
        CHECK_INT(cs_record(&cs, &ds, 0, epoch, 1, &a, &e), 0);
        cs.seed = 8;
        CHECK_INT(cs_record(&cs, &ds, 0, epoch, 1, &b, &e), 0);
        differ = strcmp(a.text, b.text) != 0;
    }
    CHECK(differ);
    cs_free(&cs);
    cs_scratch_free(&a);
    cs_scratch_free(&b);
    data_free(&ds);
}

TEST(codeswitch_lexicons_rotate)
{
    cs_set cs = {0};
    cs.n = 3;
    /* with as many copies as lexicons, a record visits every language in each epoch */
    for (uint64_t epoch = 0; epoch < 4; epoch++) {
        int seen[3] = {0};
        for (uint32_t copy = 1; copy <= 3; copy++) seen[cs_lexicon_of(&cs, 5, epoch, copy)]++;
        CHECK(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
    }
    CHECK(cs_lexicon_of(&cs, 5, 0, 1) != cs_lexicon_of(&cs, 5, 1, 1));
}

TEST(codeswitch_load_names_locales)
{
    char path[256], spec[300];
    snprintf(path, sizeof path, "/tmp/mille_test_cs_%ld_fr-FR.tsv", (long)getpid());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("alarm\tréveil\n", f);
    fclose(f);
    /* the locale from LOCALE=, and a missing file is named in the error */
    snprintf(spec, sizeof spec, "de-DE=%s", path);
    const char *specs[2] = {spec, "/nonexistent/x.tsv"};
    cs_set cs;
    mille_error e;
    CHECK_INT(cs_load(&cs, specs, 1, 0.5f, 1, &e), 0);
    CHECK_STR(cs.lex[0].locale, "de-DE");
    cs_free(&cs);
    CHECK(cs_load(&cs, specs, 2, 0.5f, 1, &e) < 0);
    CHECK(strstr(e.msg, "/nonexistent/x.tsv") != NULL);
    CHECK_INT(cs.n, 0);
    CHECK_INT(cs_load(&cs, specs, 1, 1.5f, 1, &e), MILLE_EINVAL);
    unlink(path);
}

TEST(codeswitch_training_threads_give_identical_weights)
{
    char lex[256], out[256], ck[300];
    snprintf(lex, sizeof lex, "/tmp/mille_test_cs_%ld.tsv", (long)getpid());
    snprintf(out, sizeof out, "/tmp/mille_test_cs_%ld.model", (long)getpid());
    snprintf(ck, sizeof ck, "%s.ckpt", out);
    FILE *f = fopen(lex, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("alarm\tréveil\nwake me up\tréveille-moi\nplay\tjoue\nmusic\tmusique\nweather\tmétéo\n"
          "what\tquel\nthe\tle\ntime\theure\ntomorrow\tdemain\ntoday\taujourd'hui\n",
          f);
    fclose(f);
    train_params p = train_default_params();
    p.data = test_path("data/sample");
    p.locales = "en-US,fr-FR";
    p.dev_locales = "en-US";
    p.out = out;
    p.cfg.buckets = 1u << 14;
    p.cfg.dim = 16;
    p.cfg.hidden = 32;
    p.epochs = 2;
    p.batch = 32;
    p.half = 0;
    p.patience = 100;
    const char *specs[1] = {lex};
    p.cs_lexicons = specs;
    p.n_cs = 1;
    p.cs_copies = 2;
    model m1, m2, m0;
    mille_error e;
    p.threads = 1;
    CHECK_INT(train_run(&p, &m1, NULL, &e), 0);
    p.threads = 2;
    CHECK_INT(train_run(&p, &m2, NULL, &e), 0);
    CHECK_INT(m1.n_params, m2.n_params);
    CHECK(memcmp(m1.p, m2.p, m1.n_params * sizeof *m1.p) == 0);
    /* resuming from a checkpoint mid-run replays the same copies: the same weights */
    model first, resumed;
    p.evals_per_epoch = 2;
    CHECK_INT(train_run(&p, &m0, NULL, &e), 0);
    /* stop mid-epoch at the first evaluation of the straight run (332 + 332 records and 2
     * copies of the 332 en-US ones: 1,328 items, 42 steps an epoch, evaluations every 21):
     * a stop elsewhere would add an evaluation the straight run does not make, and with it
     * possibly another best model */
    p.stop_after = 21;
    CHECK_INT(train_run(&p, &first, NULL, &e), 0);
    model_free(&first);
    p.stop_after = 0;
    p.resume = 1;
    CHECK_INT(train_run(&p, &resumed, NULL, &e), 0);
    CHECK(memcmp(m0.p, resumed.p, m0.n_params * sizeof *m0.p) == 0);
    model_free(&resumed);
    model_free(&m0);
    p.resume = 0;
    p.evals_per_epoch = 1;
    /* and code-switching changes the run */
    p.n_cs = 0;
    CHECK_INT(train_run(&p, &m0, NULL, &e), 0);
    CHECK(memcmp(m1.p, m0.p, m1.n_params * sizeof *m1.p) != 0);
    model_free(&m0);
    model_free(&m1);
    model_free(&m2);
    unlink(lex);
    unlink(out);
    unlink(ck);
}
