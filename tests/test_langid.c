/*
 * test_langid.c - the language-identification head (src/model/langid.c, src/train/langid_fit.c,
 * the "langid" section of the model file, the parse without a locale in src/api.c).
 *
 * - langid_sgd_step's gradient against central finite differences (every parameter kind,
 *   colliding and repeated n-gram rows, weight decay), tolerance 2e-3 absolute on a loss of
 *   order 1 with float parameters and steps of 1e-2;
 * - a toy problem with a known answer (two "languages" with disjoint n-grams: 100%);
 * - a head fitted on the bundled sample on top of tests/data/model_v1.mille, a file written
 *   before the section existed: it loads without a head, the fitted head survives a save and
 *   a load (and an int8 quantization) bit for bit, the intent and slot tensors are unchanged,
 *   and the API identifies the locale of a text without one;
 * - sections the reader must refuse: a newer section version, unknown features, a NaN;
 * - four sessions of the shipped model identifying in threads (make tsan runs it).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "langid.h"
#include "langid_fit.h"
#include "mille.h"

/* ---- gradient ----------------------------------------------------------------------------- */

/* The loss langid_sgd_step minimizes, at the current parameters. */
static double full_loss(langid_params *p, const float *x, const uint32_t *f, size_t nf, uint32_t y,
                        double l2, double *scr)
{
    double l = langid_sgd_step(p, x, f, nf, y, 0, 0, scr), ss = 0;
    for (size_t j = 0; j < p->K * p->F; j++) ss += (double)p->w[j] * p->w[j];
    for (size_t j = 0; j < p->K * p->Q; j++) ss += (double)p->a[j] * p->a[j];
    return l + 0.5 * l2 * ss;
}

TEST(langid_gradient_matches_finite_differences)
{
    enum { K = 4, F = 3, R = 7, Q = 2 };
    size_t np = K + K * F + K * Q + R * Q;
    float blk[K + K * F + K * Q + R * Q], old[K + K * F + K * Q + R * Q];
    rng r;
    rng_seed(&r, 7);
    for (size_t j = 0; j < np; j++) blk[j] = (float)(rng_uniform(&r) - 0.5);
    langid_params p = {K, F, R, Q, blk, blk + K, blk + K + K * F, blk + K + K * F + K * Q};
    const float x[F] = {0.5f, -1.25f, 2.0f};
    /* ids 3 and 10 share row 3; id 5 appears twice */
    const uint32_t f[5] = {3, 10, 5, 5, 1};
    const double l2 = 0.1, eps = 1e-2;
    double scr[K + 2 * Q];
    memcpy(old, blk, sizeof blk);
    langid_sgd_step(&p, x, f, 5, 2, 1.0, l2, scr); /* lr 1: each parameter moves by -grad */
    float grad[K + K * F + K * Q + R * Q];
    for (size_t j = 0; j < np; j++) grad[j] = old[j] - blk[j];
    memcpy(blk, old, sizeof blk);
    for (size_t j = 0; j < np; j++) {
        float v = blk[j];
        blk[j] = v + (float)eps;
        double lp = full_loss(&p, x, f, 5, 2, l2, scr);
        blk[j] = v - (float)eps;
        double lm = full_loss(&p, x, f, 5, 2, l2, scr);
        blk[j] = v;
        CHECK_NEAR(grad[j], (lp - lm) / (2 * eps), 2e-3);
    }
    /* rows no id uses get no gradient */
    CHECK(grad[K + K * F + K * Q + 0 * Q] == 0 && grad[K + K * F + K * Q + 6 * Q + 1] == 0);
}

TEST(langid_toy_problem_separates)
{
    /* "language" 0 uses ids 0..9, language 1 ids 10..19, language 2 both halves' odd ids;
     * the n-gram head alone (F = 0) must get all of them after a few epochs */
    enum { K = 3, R = 32, Q = 4, N = 60 };
    float blk[K + K * Q + R * Q];
    memset(blk, 0, sizeof blk);
    rng r;
    rng_seed(&r, 1);
    for (size_t j = 0; j < R * Q; j++) blk[K + K * Q + j] = (float)((2 * rng_uniform(&r) - 1) / Q);
    langid_params p = {K, 0, R, Q, blk, NULL, blk + K, blk + K + K * Q};
    uint32_t f[N][4], y[N];
    for (size_t i = 0; i < N; i++) {
        y[i] = (uint32_t)(i % 3);
        for (size_t k = 0; k < 4; k++) {
            uint32_t v = (uint32_t)rng_below(&r, 10);
            f[i][k] = y[i] == 0 ? v : y[i] == 1 ? 10 + v : (uint32_t)(1 + 2 * rng_below(&r, 10));
        }
    }
    double scr[K + 2 * Q];
    for (int ep = 0; ep < 30; ep++)
        for (size_t i = 0; i < N; i++) langid_sgd_step(&p, NULL, f[i], 4, y[i], 0.5, 0, scr);
    langid_head h = langid_params_head(&p, LANGID_FEAT_NGRAM);
    size_t ok = 0;
    float pr[K];
    for (size_t i = 0; i < N; i++) ok += langid_predict(&h, NULL, f[i], 4, pr) == y[i];
    CHECK_INT(ok, N);
    CHECK_NEAR(pr[0] + pr[1] + pr[2], 1.0, 1e-5);
}

/* ---- a head on a real model, through the file ---------------------------------------------- */

static const char *LOCALES = "en-US,fr-FR,ja-JP,ru-RU,ar-SA,th-TH";

static char *tmpname(const char *tag)
{
    static char buf[4][256];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, 256, "/tmp/mille_test_langid_%s_%ld.model", tag, (long)getpid());
    return b;
}

/* Fit a head on model_v1 with the sample's locales above and save it to path. */
static int fit_sample(const char *path, uint32_t feats, model *m, double *acc)
{
    mille_error e;
    int rc = model_load(m, test_path("tests/data/model_v1.mille"), &e);
    if (rc) return rc;
    data_set ds = {0};
    data_opts o = data_default_opts();
    o.mode = DATA_TEXT;
    o.locales = LOCALES;
    rc = data_load(&ds, test_path("data/sample"), &o, &e);
    langid_fit_opts fo = langid_fit_default_opts();
    fo.feats = feats;
    fo.rows = 4096;
    fo.width = 8;
    fo.epochs = 30; /* 2,000 utterances: SGD needs more passes than on MASSIVE's 600k */
    langid_fit_info info;
    if (!rc) rc = langid_fit(m, &ds, &fo, &info, &e);
    if (!rc) rc = model_save(m, path, m->emb16 != NULL, &e); /* keep the f16 embedding */
    if (rc) fprintf(stderr, "fit_sample: %s\n", e.msg);
    *acc = info.dev_acc;
    fprintf(stderr, "fit_sample: dev accuracy %.4f (%zu train, %zu dev)\n", info.dev_acc,
            info.n_train, info.n_dev);
    data_free(&ds);
    return rc;
}

TEST(langid_fit_save_load_on_an_old_model)
{
    const char *path = tmpname("rt");
    model old, m, back;
    mille_error e;
    /* a file from before the section: no head */
    CHECK_INT(model_load(&old, test_path("tests/data/model_v1.mille"), &e), 0);
    CHECK_INT(old.lid.K, 0);
    double acc = 0;
    CHECK_INT(fit_sample(path, LANGID_FEAT_NGRAM | LANGID_FEAT_EMB, &m, &acc), 0);
    /* 6 locales, 330 train and 107 dev utterances each, hashed into model_v1's 1,024 buckets:
     * measured 0.945 */
    CHECK(acc >= 0.92);
    CHECK_INT(model_load(&back, path, &e), 0);
    CHECK_INT(back.lid.K, 6);
    CHECK_INT(back.lid.R, 4096);
    CHECK_INT(back.lid.Q, 8);
    CHECK_INT(back.lid.F, old.cfg.dim);
    CHECK(memcmp(back.lid.b, m.lid.b, 6 * sizeof(float)) == 0);
    CHECK(memcmp(back.lid.w, m.lid.w, 6 * back.lid.F * sizeof(float)) == 0);
    CHECK(memcmp(back.lid.e, m.lid.e, 4096 * 8 * sizeof(float)) == 0);
    CHECK(memcmp(back.lid.a, m.lid.a, 6 * 8 * sizeof(float)) == 0);
    /* the model's own tensors are the old file's */
    for (int i = 0; i < old.n_tensors; i++) {
        const float *a = model_tensor(&old, i), *b = model_tensor(&back, i);
        CHECK((a == NULL) == (b == NULL));
        if (a && b) CHECK(memcmp(a, b, old.t[i].rows * old.t[i].cols * sizeof(float)) == 0);
    }
    CHECK((old.emb16 == NULL) == (back.emb16 == NULL));
    if (old.emb16 && back.emb16)
        CHECK(memcmp(old.emb16, back.emb16, old.t[T_EMB].rows * old.t[T_EMB].cols * 2) == 0);
    /* int8: the head stays f32 and whole */
    const char *q = tmpname("q8");
    model qm;
    CHECK_INT(model_quantize(&back, &e), 0);
    CHECK_INT(model_save(&back, q, 0, &e), 0);
    CHECK_INT(model_load(&qm, q, &e), 0);
    CHECK_INT(qm.lid.K, 6);
    CHECK(memcmp(qm.lid.e, m.lid.e, 4096 * 8 * sizeof(float)) == 0);

    /* the API: without a locale the text's is identified; with one, nothing is */
    mille_model *mm;
    mille_session *s;
    CHECK_INT(mille_model_load(q, &mm, &e), 0);
    CHECK_INT(mille_model_has_langid(mm), 1);
    CHECK_INT(mille_session_new(mm, &s, &e), 0);
    mille_result r;
    float p = 0;
    const char *ja = "明日の朝七時に起こして";
    CHECK_INT(mille_parse(s, ja, strlen(ja), NULL, &r, &e), 0);
    CHECK_STR(mille_session_locale(s, 0, &p), "ja-JP");
    CHECK(p > 0.5f && p <= 1.0f);
    const char *ru = "включи свет в спальне";
    CHECK_INT(mille_parse(s, ru, strlen(ru), MILLE_LOCALE_AUTO, &r, &e), 0);
    CHECK_STR(mille_session_locale(s, 0, NULL), "ru-RU");
    CHECK_INT(mille_parse(s, ru, strlen(ru), "ru-RU", &r, &e), 0);
    CHECK(mille_session_locale(s, 0, &p) == NULL && p == 0);
    /* a batch: one per input; a failed input has none */
    mille_input in[3] = {{ja, strlen(ja), NULL}, {"a\xff", 2, NULL}, {ru, strlen(ru), "auto"}};
    mille_result res[3];
    CHECK_INT(mille_parse_batch(s, in, 3, res, NULL), 2);
    CHECK_STR(mille_session_locale(s, 0, NULL), "ja-JP");
    CHECK(mille_session_locale(s, 1, NULL) == NULL);
    CHECK_STR(mille_session_locale(s, 2, NULL), "ru-RU");
    CHECK(mille_session_locale(s, 3, NULL) == NULL);
    /* a call that fails as a whole leaves no locale behind */
    CHECK_INT(mille_session_set_max_batch_words(s, 3), 0);
    CHECK_INT(mille_parse_batch(s, in, 3, res, NULL), MILLE_ELIMIT);
    CHECK(mille_session_locale(s, 0, NULL) == NULL);
    CHECK_INT(mille_session_set_max_batch_words(s, MILLE_MAX_BATCH_WORDS_DEFAULT), 0);
    /* the same intent and slots as the old model given the locale */
    mille_model *mo;
    mille_session *so;
    mille_result ro;
    CHECK_INT(mille_model_load(test_path("tests/data/model_v1.mille"), &mo, &e), 0);
    CHECK_INT(mille_model_has_langid(mo), 0);
    CHECK_INT(mille_session_new(mo, &so, &e), 0);
    CHECK_INT(mille_parse(so, ja, strlen(ja), "ja-JP", &ro, &e), 0);
    CHECK(mille_session_locale(so, 0, NULL) == NULL);
    CHECK_INT(mille_parse(s, ja, strlen(ja), NULL, &r, &e), 0);
    CHECK_STR(r.intent, ro.intent);
    CHECK_STR(r.annot_utt, ro.annot_utt);
    /* top k */
    mille_locale_score top[8];
    CHECK_INT(mille_identify(s, ja, strlen(ja), top, 8, &e), 6);
    CHECK_STR(top[0].locale, "ja-JP");
    float sum = 0;
    for (int i = 0; i < 6; i++) {
        sum += top[i].score;
        if (i) CHECK(top[i].score <= top[i - 1].score);
    }
    CHECK_NEAR(sum, 1.0, 1e-4);
    CHECK_INT(mille_identify(so, ja, strlen(ja), top, 8, &e), MILLE_EINVAL);
    CHECK_INT(mille_identify(s, "a\xff", 2, top, 8, &e), MILLE_EUTF8);
    mille_session_free(so);
    mille_model_free(mo);
    mille_session_free(s);
    mille_model_free(mm);
    model_free(&qm);
    model_free(&back);
    model_free(&m);
    model_free(&old);
    unlink(path);
    unlink(q);
}

/* Replace the first occurrence of from by to (same length) in the file image and fix its
 * checksum; returns 0 when found. */
static int patch(char *buf, size_t n, const char *from, const char *to)
{
    size_t k = strlen(from);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(buf + i, from, k) == 0) {
            memcpy(buf + i, to, k);
            uint32_t crc = file_crc32(buf, n - 8);
            memcpy(buf + n - 8, &crc, 4);
            return 0;
        }
    return -1;
}

TEST(langid_section_refused_when_unreadable)
{
    const char *path = tmpname("bad"), *bad = tmpname("bad2");
    model m, x;
    mille_error e;
    double acc;
    CHECK_INT(fit_sample(path, LANGID_FEAT_NGRAM, &m, &acc), 0);
    model_free(&m);
    char *buf;
    size_t n;
    CHECK_INT(file_read_all(path, &buf, &n, &e), 0);
    struct {
        const char *from, *to, *msg;
    } cases[] = {
        {"\"langid\":{\"version\":1", "\"langid\":{\"version\":9", "langid section version 9"},
        {"\"features\":\"ngram\"", "\"features\":\"ngrXm\"", "unknown features \"ngrXm\""},
        {"\"name\":\"langid.e\"", "\"name\":\"langid.x\"", "expected \"langid.e\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *c = malloc(n);
        memcpy(c, buf, n);
        CHECK_INT(patch(c, n, cases[i].from, cases[i].to), 0);
        CHECK_INT(file_write_atomic(bad, c, n, &e), 0);
        CHECK_INT(model_load(&x, bad, &e), MILLE_EFORMAT);
        if (!strstr(e.msg, cases[i].msg)) fprintf(stderr, "got: %s\n", e.msg);
        CHECK(strstr(e.msg, cases[i].msg) != NULL);
        free(c);
    }
    /* a NaN in the bias (the first langid tensor: right after the model's data) */
    CHECK_INT(model_load(&x, path, &e), 0);
    size_t off = (size_t)((const char *)x.lid.b - (const char *)x.map);
    model_free(&x);
    float nan = NAN;
    memcpy(buf + off, &nan, 4);
    uint32_t crc = file_crc32(buf, n - 8);
    memcpy(buf + n - 8, &crc, 4);
    CHECK_INT(file_write_atomic(bad, buf, n, &e), 0);
    CHECK_INT(model_load(&x, bad, &e), MILLE_EFORMAT);
    CHECK(strstr(e.msg, "langid.b: element 0 is not finite") != NULL);
    free(buf);
    unlink(path);
    unlink(bad);
}

/* ---- threads: sessions of one model identify concurrently (run under TSan by make tsan) --- */

static const char *const thread_utts[] = {
    "wake me up at five am this week", "réveille-moi à cinq heures du matin cette semaine",
    "今週は午前五時に起こして", "vekk meg klokka ni i morgen", "включи свет в спальне"};
enum { N_THREAD_UTTS = 5, N_THREADS = 4 };

typedef struct lid_job {
    const mille_model *m;
    const char *want[N_THREAD_UTTS];
    int mismatches;
} lid_job;

static void *lid_worker(void *arg)
{
    lid_job *j = arg;
    mille_session *s;
    mille_error e;
    if (mille_session_new(j->m, &s, &e) < 0) {
        j->mismatches = -1;
        return NULL;
    }
    for (int rep = 0; rep < 20; rep++)
        for (int i = 0; i < N_THREAD_UTTS; i++) {
            mille_result r;
            if (mille_parse(s, thread_utts[i], strlen(thread_utts[i]), NULL, &r, &e) < 0 ||
                mille_session_locale(s, 0, NULL) != j->want[i])
                j->mismatches++;
        }
    mille_session_free(s);
    return NULL;
}

TEST(langid_sessions_identify_in_threads)
{
    mille_model *m;
    mille_session *s;
    mille_error e;
    CHECK_INT(mille_model_load(test_path("models/mille.model"), &m, &e), 0);
    CHECK_INT(mille_model_has_langid(m), 1);
    CHECK_INT(mille_session_new(m, &s, &e), 0);
    lid_job jobs[N_THREADS];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < N_THREAD_UTTS; i++) {
        mille_result r;
        CHECK_INT(mille_parse(s, thread_utts[i], strlen(thread_utts[i]), NULL, &r, &e), 0);
        /* the locale names are the model's strings: the same pointer in every session */
        for (int t = 0; t < N_THREADS; t++) jobs[t].want[i] = mille_session_locale(s, 0, NULL);
    }
    CHECK_STR(jobs[0].want[3], "nb-NO");
    pthread_t th[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        jobs[t].m = m;
        pthread_create(&th[t], NULL, lid_worker, &jobs[t]);
    }
    for (int t = 0; t < N_THREADS; t++) {
        pthread_join(th[t], NULL);
        CHECK_INT(jobs[t].mismatches, 0);
    }
    mille_session_free(s);
    mille_model_free(m);
}
