/*
 * test_calib.c - temperature scaling and out-of-scope scores (src/train/calib.c), the
 * "calibration" header of the model file, and rejection in the C API.
 *
 * Known answers: with two classes, logits (+1, -1) for every record and a share p of records
 * of class 0, the NLL of softmax(l / T) is minimal where sigmoid(2 / T) = p, i.e.
 * T = 2 / ln(p / (1 - p)); every record then has confidence p and the accuracy is p, so the
 * ECE is 0.
 */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calib.h"
#include "harness.h"
#include "mille.h"
#include "model.h"

/* n records with logits (+1, -1), the first round(p n) of class 0, the rest of class 1. */
static void two_class(float *L, uint32_t *gold, size_t n, double p)
{
    size_t k = (size_t)llround(p * (double)n);
    for (size_t i = 0; i < n; i++) {
        L[2 * i] = 1, L[2 * i + 1] = -1;
        gold[i] = i < k ? 0 : 1;
    }
}

TEST(calib_temperature_known_answer)
{
    enum { N = 1000 };
    static float L[2 * N];
    static uint32_t gold[N];
    const double ps[] = {0.75, 0.88, 0.99, 0.6};
    for (size_t t = 0; t < sizeof ps / sizeof ps[0]; t++) {
        double p = ps[t], want = 2 / log(p / (1 - p));
        two_class(L, gold, N, p);
        double T = calib_fit_temperature(L, gold, NULL, N, 2);
        CHECK_NEAR(T, want, 1e-4 * want);
        /* the NLL really is lowest there */
        double f = calib_nll(L, gold, NULL, N, 2, T);
        CHECK(f <= calib_nll(L, gold, NULL, N, 2, T * 1.01));
        CHECK(f <= calib_nll(L, gold, NULL, N, 2, T / 1.01));
        /* calibrated: confidence p everywhere, accuracy p */
        double conf[N];
        uint8_t ok[N];
        for (size_t i = 0; i < N; i++) {
            uint32_t best;
            conf[i] = calib_score(L + 2 * i, 2, T, CALIB_SCORE_PROB, &best);
            ok[i] = best == gold[i];
        }
        CHECK_NEAR(conf[0], p, 1e-6);
        CHECK_NEAR(calib_ece(conf, ok, N, CALIB_BINS), 0, 1e-6);
        /* at T = 1 the confidence is sigmoid(2) = 0.881: miscalibrated by |p - 0.881| */
        for (size_t i = 0; i < N; i++) conf[i] = calib_score(L + 2 * i, 2, 1, CALIB_SCORE_PROB, 0);
        CHECK_NEAR(calib_ece(conf, ok, N, CALIB_BINS), fabs(p - 1 / (1 + exp(-2.0))), 1e-6);
    }
    /* out-of-scope records (CALIB_OOS) and unselected ones do not count */
    two_class(L, gold, N, 0.75);
    uint8_t sel[N];
    for (size_t i = 0; i < N; i++) sel[i] = 1;
    gold[0] = CALIB_OOS;
    sel[1] = 0;
    CHECK_NEAR(calib_fit_temperature(L, gold, sel, N, 2), 2 / log(748.0 / 250.0),
               1e-4); /* 748 of class 0 left, 250 of class 1 */
    /* nothing selected: T = 1 */
    for (size_t i = 0; i < N; i++) gold[i] = CALIB_OOS;
    CHECK_NEAR(calib_fit_temperature(L, gold, NULL, N, 2), 1, 0);
}

TEST(calib_temperature_recovers_sampled_labels)
{
    /* labels drawn from softmax(l / 2.5) over 4 classes: the fit finds about 2.5 (the
     * tolerance is several standard errors at n = 20000) */
    enum { N = 20000, I = 4 };
    float *L = malloc(N * I * sizeof *L);
    uint32_t *gold = malloc(N * sizeof *gold);
    rng r;
    rng_seed(&r, 7);
    for (size_t i = 0; i < N; i++) {
        double p[I], z = 0;
        for (size_t k = 0; k < I; k++) {
            L[i * I + k] = (float)(6 * rng_uniform(&r) - 3);
            z += p[k] = exp(L[i * I + k] / 2.5);
        }
        double u = rng_uniform(&r) * z;
        size_t k = 0;
        while (k + 1 < I && u >= p[k]) u -= p[k++];
        gold[i] = (uint32_t)k;
    }
    double T = calib_fit_temperature(L, gold, NULL, N, I);
    CHECK_NEAR(T, 2.5, 0.15);
    free(L);
    free(gold);
}

TEST(calib_scores_by_hand)
{
    const float l[3] = {2, 1, 0};
    double z = exp(2.0) + exp(1.0) + 1;
    uint32_t best = 9;
    CHECK_NEAR(calib_score(l, 3, 1, CALIB_SCORE_PROB, &best), exp(2.0) / z, 1e-12);
    CHECK_INT(best, 0);
    CHECK_NEAR(calib_score(l, 3, 1, CALIB_SCORE_MARGIN, NULL), (exp(2.0) - exp(1.0)) / z, 1e-12);
    CHECK_NEAR(calib_score(l, 3, 1, CALIB_SCORE_ENERGY, NULL), log(z), 1e-12);
    CHECK_NEAR(calib_score(l, 3, 2, CALIB_SCORE_ENERGY, NULL), 2 * log(exp(1.0) + exp(0.5) + 1),
               1e-12);
    CHECK_NEAR(calib_score(l, 3, 2, CALIB_SCORE_MAXLOGIT, NULL), 2, 0);
}

TEST(calib_ece_auroc_threshold_by_hand)
{
    /* bins of width 1/15: 0.95 and 0.97 share the top bin (acc 1/2, conf 0.96); 0.1 is alone
     * (acc 1, conf 0.1): ECE = 2/3 * 0.46 + 1/3 * 0.9 */
    const double conf[3] = {0.95, 0.97, 0.1};
    const uint8_t ok[3] = {1, 0, 1};
    CHECK_NEAR(calib_ece(conf, ok, 3, 15), 2.0 / 3 * 0.46 + 1.0 / 3 * 0.9, 1e-12);
    CHECK_NEAR(calib_ece(conf, ok, 0, 15), 0, 0);
    /* AUROC: pairs (in > out) 5 of 6, one tie counts 1/2 */
    const double in[3] = {0.9, 0.5, 0.8}, out[2] = {0.5, 0.1};
    CHECK_NEAR(calib_auroc(in, 3, out, 2), 5.5 / 6, 1e-12);
    CHECK_NEAR(calib_auroc(out, 2, in, 3), 0.5 / 6, 1e-12);
    CHECK_NEAR(calib_auroc(in, 3, out, 0), 0.5, 0);
    /* threshold keeping 95% of 20 scores 1..20: reject only the lowest */
    double s[20];
    for (int i = 0; i < 20; i++) s[i] = 20 - i;
    double t = calib_threshold(s, 20, 0.95);
    CHECK_NEAR(t, 2, 0);
    CHECK_NEAR(calib_accept_rate(s, 20, t), 0.95, 1e-12);
    CHECK_NEAR(calib_threshold(s, 20, 1), 1, 0);
    CHECK_NEAR(calib_accept_rate(out, 2, 0.5), 0.5, 0);
    CHECK(isnan(calib_threshold(s, 0, 0.95)));
}

/* ---- model file and API -------------------------------------------------------------------- */

/* A tiny model with intents {alarm_set, oos, weather_query}; the intent bias makes `winner`
 * the intent of every text. */
static int tiny_model(model *m, uint32_t winner)
{
    model_config c = model_default_config();
    c.buckets = 64, c.dim = 4, c.hidden = 5, c.n_intents = 3, c.n_slots = 2, c.layers = 2;
    mille_error e;
    if (model_new(m, &c, &e)) return -1;
    const char *in[3] = {"alarm_set", "oos", "weather_query"};
    for (int i = 0; i < 3; i++) strtab_intern(&m->intents, in[i], strlen(in[i]));
    strtab_intern(&m->slots, "Other", 5);
    strtab_intern(&m->slots, "time", 4);
    strtab_intern(&m->scenarios, "alarm", 5);
    strtab_intern(&m->locales, "en-US", 5);
    model_init_params(m, 1);
    for (size_t k = 0; k < c.n_intents; k++) m->w[T_BI][k] = k == winner ? 3.0f : 0.0f;
    memset(m->w[T_WI], 0, c.n_intents * 2 * c.hidden * sizeof(float));
    return 0;
}

TEST(calib_model_file_round_trip)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/mille_test_calib_%ld.model", (long)getpid());
    model m, l;
    mille_error e;
    CHECK_INT(tiny_model(&m, 0), 0);
    /* without calibration the header has no "calibration" (older readers see the same) */
    CHECK_INT(model_save(&m, path, 0, &e), 0);
    CHECK_INT(model_load(&l, path, &e), 0);
    CHECK(l.meta && !strstr(l.meta, "calibration"));
    CHECK_NEAR(l.temperature, 1, 0);
    CHECK_NEAR(l.reject_below, 0, 0);
    model_free(&l);
    m.temperature = 1.75f, m.reject_below = 0.375f, m.reject_recall = 0.95f;
    CHECK_INT(model_save(&m, path, 0, &e), 0);
    CHECK_INT(model_load(&l, path, &e), 0);
    CHECK_NEAR(l.temperature, 1.75, 0);
    CHECK_NEAR(l.reject_below, 0.375, 0);
    CHECK_NEAR(l.reject_recall, 0.95, 1e-7);
    /* a bad value in the header is refused by name (checksum off to reach the check) */
    size_t size = l.map_len;
    unsigned char *img = aligned_alloc(64, (size + 63) / 64 * 64);
    memcpy(img, l.map, size);
    model_free(&l);
    char *t = memmem(img, size, "\"temperature\":1.75", 18);
    CHECK(t != NULL);
    if (t) {
        memcpy(t, "\"temperature\":-175", 18);
        model bad;
        CHECK_INT(model_from_memory(&bad, img, size, 0, path, &e), MILLE_EFORMAT);
        CHECK(strstr(e.msg, "calibration") != NULL);
    }
    free(img);
    model_free(&m);
    unlink(path);
}

TEST(calib_api_rejection)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/mille_test_calib_api_%ld.model", (long)getpid());
    model m;
    mille_error e;
    CHECK_INT(tiny_model(&m, 0), 0);
    /* logits (3, 0, 0): p = e^3 / (e^3 + 2) = 0.909 at T = 1; at T = 3, e / (e + 2) = 0.576 */
    m.temperature = 3, m.reject_below = 0.6f;
    CHECK_INT(model_save(&m, path, 0, &e), 0);
    mille_model *mm;
    mille_session *s;
    CHECK_INT(mille_model_load(path, &mm, &e), 0);
    CHECK_INT(mille_session_new(mm, &s, &e), 0);
    CHECK_NEAR(mille_model_temperature(mm), 3, 0);
    CHECK_NEAR(mille_model_reject_below(mm), 0.6, 1e-7);
    mille_result r;
    const char *text = "wake me up";
    CHECK_INT(mille_parse(s, text, strlen(text), "en-US", &r, &e), 0);
    CHECK_STR(r.intent, "alarm_set");
    CHECK_NEAR(r.confidence, exp(1.0) / (exp(1.0) + 2), 1e-6);
    CHECK_NEAR(r.top[0].score, r.confidence, 1e-7);
    CHECK_INT(r.rejected, 1); /* the model's threshold */
    CHECK_INT(mille_result_rejected(mm, &r, 0.5f), 0);
    CHECK_INT(mille_session_set_reject_below(s, 0.5f), 0);
    CHECK_INT(mille_parse(s, text, strlen(text), "en-US", &r, &e), 0);
    CHECK_INT(r.rejected, 0); /* the override */
    CHECK_STR(r.intent, "alarm_set");
    CHECK_INT(mille_session_set_reject_below(s, MILLE_REJECT_MODEL), 0);
    CHECK_INT(mille_parse(s, text, strlen(text), "en-US", &r, &e), 0);
    CHECK_INT(r.rejected, 1);
    CHECK_INT(mille_session_set_reject_below(s, 1.5f), MILLE_ERANGE);
    CHECK_INT(mille_session_set_reject_below(s, NAN), MILLE_ERANGE);
    CHECK_INT(mille_session_set_reject_below(NULL, 0.5f), MILLE_EINVAL);
    CHECK_INT(mille_result_rejected(NULL, &r, 0), 0);
    mille_session_free(s);
    mille_model_free(mm);
    model_free(&m);

    /* the explicit out-of-scope class is rejected at any threshold, and keeps its guess */
    CHECK_INT(tiny_model(&m, 1), 0);
    CHECK_INT(model_save(&m, path, 0, &e), 0);
    CHECK_INT(mille_model_load(path, &mm, &e), 0);
    CHECK_INT(mille_session_new(mm, &s, &e), 0);
    CHECK_NEAR(mille_model_temperature(mm), 1, 0); /* an uncalibrated file */
    CHECK_INT(mille_session_set_reject_below(s, 0), 0);
    CHECK_INT(mille_parse(s, text, strlen(text), NULL, &r, &e), 0);
    CHECK_STR(r.intent, "oos");
    CHECK_INT(r.rejected, 1);
    mille_session_free(s);
    mille_model_free(mm);
    model_free(&m);
    unlink(path);
}

TEST(calib_threshold_with_an_oos_class)
{
    /* 10 in-scope records of intent 0 and one of the oos class (1); record 9 is taken for the
     * oos class: it is rejected whatever the threshold, so keeping 90% of the in-scope
     * records rejects it alone and the threshold is the lowest confidence of the others */
    enum { N = 11, I = 3 };
    float L[N * I];
    uint32_t gold[N];
    for (size_t i = 0; i < N; i++) {
        L[i * I] = (float)(1 + 0.25 * (double)i), L[i * I + 1] = 0, L[i * I + 2] = 0;
        gold[i] = 0;
    }
    L[9 * I + 1] = 9; /* in scope, predicted oos */
    gold[10] = 1, L[10 * I + 1] = 9;
    calib_logits c = {L, gold, NULL, NULL, N, I, 1};
    CHECK(calib_is_oos(&c, 10) && !calib_is_oos(&c, 9));
    CHECK(calib_score_of(&c, 9, 1, CALIB_SCORE_PROB) < -1e300);
    model m;
    memset(&m, 0, sizeof m);
    CHECK_INT(calib_apply(&m, &c, 0.9), 0);
    double want = calib_score(L, I, m.temperature, CALIB_SCORE_PROB, NULL); /* record 0 */
    CHECK(m.temperature > 0);
    CHECK_NEAR(m.reject_below, want, 1e-6);
    CHECK(m.reject_below <= (float)want);
    /* every in-scope record an oos prediction: nothing is kept by confidence, threshold 0 */
    for (size_t i = 0; i < 10; i++) L[i * I + 1] = 20;
    CHECK_INT(calib_apply(&m, &c, 0.9), 0);
    CHECK_NEAR(m.reject_below, 0, 0);
    /* no in-scope record at all */
    for (size_t i = 0; i < N; i++) gold[i] = CALIB_OOS;
    CHECK_INT(calib_apply(&m, &c, 0.9), MILLE_ENOTFOUND);
}
