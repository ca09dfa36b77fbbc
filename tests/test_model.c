/* test_model.c - kernels against their reference, the model's gradient against finite
 * differences, features. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crf.h"
#include "harness.h"
#include "kern.h"
#include "model.h"

TEST(kern_gemm_matches_reference)
{
    rng r;
    rng_seed(&r, 3);
    kern_init();
    for (int trial = 0; trial < 8; trial++) {
        size_t M = 1 + rng_below(&r, 40), N = 1 + rng_below(&r, 40), K = 1 + rng_below(&r, 70);
        int ta = (int)rng_below(&r, 2), tb = (int)rng_below(&r, 2);
        float *A = malloc(M * K * sizeof *A), *B = malloc(K * N * sizeof *B);
        float *C1 = malloc(M * N * sizeof *C1), *C2 = malloc(M * N * sizeof *C2);
        for (size_t i = 0; i < M * K; i++) A[i] = (float)rng_below(&r, 2001) / 1000.0f - 1;
        for (size_t i = 0; i < K * N; i++) B[i] = (float)rng_below(&r, 2001) / 1000.0f - 1;
        for (size_t i = 0; i < M * N; i++) C1[i] = C2[i] = (float)rng_below(&r, 2001) / 1000.0f - 1;
        float beta = trial & 1 ? 1.0f : 0.0f;
        kern_gemm(ta, tb, M, N, K, 0.5f, A, ta ? M : K, B, tb ? K : N, beta, C1, N);
        kern_gemm_ref(ta, tb, M, N, K, 0.5f, A, ta ? M : K, B, tb ? K : N, beta, C2, N);
        /* float accumulation over K <= 70 terms of size <= 1: 1e-4 is ~100 ulps of the sum */
        for (size_t i = 0; i < M * N; i++) CHECK_NEAR(C1[i], C2[i], 1e-4);
        free(A), free(B), free(C1), free(C2);
    }
}

TEST(kern_bias_relu_matches_reference_exactly)
{
    rng r;
    rng_seed(&r, 9);
    const float special[] = {NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-45f, -1e-45f};
    for (size_t h = 1; h <= 40; h += (h < 17 ? 1 : 11)) {
        size_t n = 1 + rng_below(&r, 4), len = n * h;
        float *y1 = malloc(len * sizeof *y1), *y2 = malloc(len * sizeof *y2),
              *p1 = malloc(len * sizeof *p1), *p2 = malloc(len * sizeof *p2),
              *o1 = malloc(len * sizeof *o1), *o2 = malloc(len * sizeof *o2),
              *res = malloc(len * sizeof *res), *b = malloc(h * sizeof *b);
        for (size_t i = 0; i < len; i++) {
            uint64_t u = rng_below(&r, 6);
            y1[i] = u == 0 ? special[rng_below(&r, 8)] : (float)rng_below(&r, 2001) / 100 - 10;
            res[i] = (float)rng_below(&r, 2001) / 100 - 10;
        }
        for (size_t k = 0; k < h; k++)
            b[k] = k % 5 == 0 ? -0.0f : (float)rng_below(&r, 2001) / 100 - 10;
        memcpy(y2, y1, len * sizeof *y1);
        memcpy(p1, y1, len * sizeof *y1);
        memcpy(p2, y1, len * sizeof *y1);
        kern_bias_relu_ref(y1, b, n, h);
        kern_bias_relu(y2, b, n, h);
        kern_bias_relu_res_ref(p1, o1, b, res, n, h);
        kern_bias_relu_res(p2, o2, b, res, n, h);
        /* bits, not values: NaN and -0 must come out the same */
        CHECK(memcmp(y1, y2, len * sizeof *y1) == 0);
        CHECK(memcmp(p1, p2, len * sizeof *p1) == 0);
        CHECK(memcmp(o1, o2, len * sizeof *o1) == 0);
        free(y1), free(y2), free(p1), free(p2), free(o1), free(o2), free(res), free(b);
    }
}

static model_config tiny_config(void)
{
    model_config c = model_default_config();
    c.buckets = 64, c.dim = 4, c.hidden = 5, c.n_intents = 3, c.n_slots = 4;
    return c;
}

static void tiny_batch(batch *b, rng *r)
{
    uint32_t f[16], fo[5];
    int tags[4];
    size_t lens[2] = {4, 1};
    for (int u = 0; u < 2; u++) {
        fo[0] = 0;
        for (size_t k = 0; k < lens[u]; k++) {
            size_t nf = 1 + rng_below(r, 3);
            for (size_t j = 0; j < nf; j++) f[fo[k] + j] = (uint32_t)rng_below(r, 64);
            fo[k + 1] = fo[k] + (uint32_t)nf;
            tags[k] = (int)rng_below(r, 4);
        }
        batch_add(b, f, fo, lens[u], (uint32_t)rng_below(r, 3), tags);
    }
}

static const model_soft *g_soft; /* soft targets of the gradient check, NULL = gold */

static double loss_of(model *m, batch *b, model_ws *ws)
{
    double expA[16];
    crf_trans tr = {expA, 0, 0, NULL};
    crf_prepare(&tr, model_tensor(m, T_TRANS), m->cfg.n_slots);
    model_forward(m, b, ws);
    return model_backward_soft(m, b, ws, &tr, g_soft, 1, NULL, NULL);
}

/* Smallest distance from a kink: |ReLU input| of both conv layers and, per utterance and
 * hidden unit, the gap between the max-pooled word and the runner-up. */
static double min_margin(model *m, batch *b, model_ws *ws)
{
    size_t N = b->n_words, H = m->cfg.hidden, D = m->cfg.dim;
    model_forward(m, b, ws);
    float *pre = malloc(N * H * sizeof *pre);
    kern_gemm_ref(0, 1, N, H, 3 * D, 1, ws->U1, 3 * D, model_tensor(m, T_W1), 3 * D, 0, pre, H);
    double mm = INFINITY;
    for (size_t i = 0; i < N * H; i++) mm = fmin(mm, fabs(pre[i] + model_tensor(m, T_B1)[i % H]));
    for (int l = 2; l <= (int)m->cfg.layers; l++)
        for (size_t i = 0; i < N * H; i++) mm = fmin(mm, fabs(ws->Hp[l][i]));
    for (size_t u = 0; u < b->n_utt; u++)
        for (size_t h = 0; h < H; h++) {
            float best = ws->P[u * 2 * H + H + h];
            for (size_t i = b->utt_off[u]; i < b->utt_off[u + 1]; i++)
                if ((int)i != ws->amax[u * H + h]) mm = fmin(mm, best - ws->H2[i * H + h]);
        }
    free(pre);
    return mm;
}

/* Soft targets for the tiny batch: a random intent distribution per utterance (the first
 * also gold), and per word a few unary and pairwise entries, normalized. */
typedef struct soft_fix {
    float intent[2 * 3];
    uint8_t gold[2];
    uint32_t eoff[8];
    crf_entry ent[64];
    model_soft s;
} soft_fix;

static void make_soft(soft_fix *f, const batch *b, rng *r)
{
    for (size_t u = 0; u < b->n_utt; u++) {
        double sum = 0;
        for (int k = 0; k < 3; k++) sum += f->intent[u * 3 + k] = (float)(1 + rng_below(r, 9));
        for (int k = 0; k < 3; k++) f->intent[u * 3 + k] = (float)(f->intent[u * 3 + k] / sum);
        f->gold[u] = u == 0;
    }
    size_t n = 0;
    for (size_t u = 0; u < b->n_utt; u++)
        for (size_t i = b->utt_off[u]; i < b->utt_off[u + 1]; i++) {
            f->eoff[i] = (uint32_t)n;
            for (int pass = 0; pass < (i > b->utt_off[u] ? 2 : 1); pass++) {
                size_t k0 = n;
                double sum = 0;
                for (int k = 0; k < 2; k++, n++) {
                    f->ent[n].from = pass ? (uint16_t)rng_below(r, 4) : CRF_UNARY;
                    f->ent[n].to = (uint16_t)rng_below(r, 4);
                    sum += f->ent[n].p = (float)(1 + rng_below(r, 9));
                }
                for (size_t k = k0; k < n; k++) f->ent[k].p = (float)(f->ent[k].p / sum);
            }
        }
    f->eoff[b->n_words] = (uint32_t)n;
    f->s = (model_soft){f->intent, 2.0f, 0.6f, f->gold, f->eoff, f->ent};
}

static void gradient_check_soft(float drop, uint32_t layers, int soft);
static void gradient_check(float drop, uint32_t layers) { gradient_check_soft(drop, layers, 0); }

static void gradient_check_soft(float drop, uint32_t layers, int soft)
{
    kern_set_reference(1); /* double accumulation keeps the differences clean */
    model_config c = tiny_config();
    c.layers = layers;
    model m;
    mille_error e;
    CHECK_INT(model_new(&m, &c, &e), 0);
    /* Central differences are only valid away from kinks: a ReLU input or a max-pool gap
     * within ~h of zero makes them average two slopes. Take the first seed whose point has
     * every ReLU input and every max-pool margin at least 2e-2 from zero (checked below),
     * with non-zero CRF and bias parameters so that every path is exercised. */
    batch b = {0};
    model_ws ws = {0};
    ws.drop = drop; /* masks come from drop_seed: the same in every forward pass */
    ws.drop_seed = 99;
    uint64_t seed;
    for (seed = 17; seed < 117; seed++) {
        rng r;
        rng_seed(&r, seed);
        model_init_params(&m, seed);
        for (size_t i = m.t[T_B1].off; i < m.n_params; i++)
            if (m.p[i] == 0) m.p[i] = (float)rng_below(&r, 2001) / 2000.0f - 0.5f;
        batch_clear(&b);
        tiny_batch(&b, &r);
        if (min_margin(&m, &b, &ws) >= 2e-2) break;
    }
    CHECK(seed < 117);
    soft_fix sf;
    if (soft) {
        rng r;
        rng_seed(&r, 5);
        make_soft(&sf, &b, &r);
        g_soft = &sf.s;
    }
    size_t dense0 = m.t[T_W1].off, ndense = m.n_params - dense0;
    float *g = calloc(ndense, sizeof *g), *dX = calloc(b.n_words * c.dim, sizeof *dX);
    double expA[16];
    crf_trans tr = {expA, 0, 0, NULL};
    crf_prepare(&tr, model_tensor(&m, T_TRANS), c.n_slots);
    model_forward(&m, &b, &ws);
    model_backward_soft(&m, &b, &ws, &tr, g_soft, 1, g, dX);
    /* the embedding gradient: dX scattered to the rows, divided by the feature count */
    float *gemb = calloc(m.t[T_EMB].rows * c.dim, sizeof *gemb);
    for (size_t i = 0; i < b.n_words; i++) {
        uint32_t f0 = b.feat_off[i], f1 = b.feat_off[i + 1];
        for (uint32_t f = f0; f < f1; f++)
            for (size_t d = 0; d < c.dim; d++)
                gemb[b.feats[f] * c.dim + d] += dX[i * c.dim + d] / (float)(f1 - f0);
    }
    size_t checked = 0, bad = 0;
    for (size_t i = 0; i < m.n_params; i++) {
        double an = i < dense0 ? gemb[i] : g[i - dense0];
        float keep = m.p[i];
        const float h = 1e-3f;
        m.p[i] = keep + h;
        double up = loss_of(&m, &b, &ws);
        m.p[i] = keep - h;
        double down = loss_of(&m, &b, &ws);
        m.p[i] = keep;
        double num = (up - down) / (2.0 * h);
        /* float parameters: tolerance 1e-3 absolute plus 1% relative */
        if (fabs(an - num) > 1e-3 + 0.01 * fabs(num)) {
            int ti = 0;
            while (ti + 1 < T_COUNT && m.t[ti + 1].off <= i) ti++;
            if (bad++ < 10)
                fprintf(stderr, "param %zu (%s): analytic %g numeric %g\n", i, m.t[ti].name, an,
                        num);
        }
        checked++;
    }
    CHECK_INT(bad, 0);
    CHECK(checked == m.n_params);
    free(g), free(dX), free(gemb);
    batch_free(&b);
    model_ws_free(&ws);
    model_free(&m);
    kern_set_reference(0);
    g_soft = NULL;
}

TEST(model_gradient_matches_finite_differences) { gradient_check(0, 2); }
TEST(model_gradient_with_dropout_matches_finite_differences) { gradient_check(0.3f, 2); }
TEST(model_gradient_three_layers_matches_finite_differences) { gradient_check(0.3f, 3); }
/* the distillation loss: soft intent targets at a temperature, mixed with gold, and CRF
 * cross-entropy to soft slot marginals */
TEST(model_distill_gradient_matches_finite_differences) { gradient_check_soft(0.3f, 2, 1); }

TEST(model_features)
{
    model_config c = model_default_config();
    text_buf nb = {0};
    uint32_t f1[MODEL_MAX_FEATS], f2[MODEL_MAX_FEATS];
    mille_error e;
    /* "Alarm" and "ALARM" normalize (case fold) to the same features */
    int n1 = model_word_features(&c, "Alarm", 5, &nb, f1, MODEL_MAX_FEATS, NULL, &e);
    int n2 = model_word_features(&c, "ALARM", 5, &nb, f2, MODEL_MAX_FEATS, NULL, &e);
    CHECK_INT(n1, n2);
    CHECK(n1 > 0 && memcmp(f1, f2, (size_t)n1 * sizeof *f1) == 0);
    /* "<alarm>" has 7 positions: 5 trigrams + 4 four-grams + 3 five-grams + the word */
    CHECK_INT(n1, 1 + 5 + 4 + 3);
    /* one CJK character: "<日>" gives one trigram, no longer n-grams */
    CHECK_INT(model_word_features(&c, "日", 3, &nb, f1, MODEL_MAX_FEATS, NULL, &e), 2);
    for (int i = 0; i < n1; i++) CHECK(f1[i] < c.buckets);
    /* a very long word is capped, not overflowed */
    char longw[400];
    memset(longw, 'a', sizeof longw);
    int n3 = model_word_features(&c, longw, sizeof longw, &nb, f1, MODEL_MAX_FEATS, NULL, &e);
    CHECK(n3 > 0 && n3 <= MODEL_MAX_FEATS);
    CHECK_INT(model_word_features(&c, "a\xff", 2, &nb, f1, MODEL_MAX_FEATS, NULL, &e), MILLE_EUTF8);
    /* minn = 1: the single-position n-grams include the '>' marker alone (no bytes); the
     * same word gives the same features twice (no uninitialized read: found by fuzzing) */
    c.minn = 1, c.maxn = 2;
    n1 = model_word_features(&c, "ab", 2, &nb, f1, MODEL_MAX_FEATS, NULL, &e);
    n2 = model_word_features(&c, "ab", 2, &nb, f2, MODEL_MAX_FEATS, NULL, &e);
    CHECK_INT(n1, 1 + 4 + 3); /* word + "<" "a" "b" ">" + "<a" "ab" "b>" */
    CHECK(n1 == n2 && memcmp(f1, f2, (size_t)n1 * sizeof *f1) == 0);
    text_buf_free(&nb);
}

/* Audit 2026-12 #2: inference allocated the gradient views too (about half again the
 * forward memory). A forward pass and a decode now leave the gradient block unallocated;
 * model_backward reserves it; and the forward buffer holds the forward views and no more
 * than the growth policy's doubling. */
TEST(model_inference_allocates_forward_buffers_only)
{
    model_config c = tiny_config();
    model m;
    CHECK_INT(model_new(&m, &c, NULL), 0);
    model_init_params(&m, 5);
    batch b = {0};
    model_ws ws = {0};
    rng r;
    rng_seed(&r, 5);
    tiny_batch(&b, &r);
    CHECK_INT(model_forward(&m, &b, &ws), 0);
    uint32_t intent[2];
    float prob[2];
    int tags[5];
    model_decode(&m, &b, &ws, intent, prob, tags);
    CHECK(ws.gbuf == NULL);
    CHECK_INT(ws.gcap, 0);
    /* the forward views end at L (U, I): the buffer needs exactly that much */
    size_t used = (size_t)(ws.L + b.n_utt * c.n_intents - ws.buf);
    CHECK(ws.cap >= used && ws.cap <= 2 * used);
    double expA[16];
    crf_trans tr = {expA, 0, 0, NULL};
    crf_prepare(&tr, model_tensor(&m, T_TRANS), c.n_slots);
    CHECK(!isnan(model_backward(&m, &b, &ws, &tr, 1, NULL, NULL)));
    CHECK(ws.gbuf != NULL);
    model_ws_free(&ws);
    batch_free(&b);
    model_free(&m);
}
