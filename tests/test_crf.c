/* test_crf.c - the CRF against brute-force enumeration and finite differences. */
#include <math.h>
#include <stdlib.h>

#include "core.h"
#include "crf.h"
#include "harness.h"

static void fill(rng *r, float *v, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(scale * ((double)rng_below(r, 2001) / 1000.0 - 1.0));
}

enum { MT = 5, MS = 4 };

/* nll through the scaled forward pass */
static double nll(const float *E, const float *A, const float *st, const float *en, size_t T,
                  size_t S, const int *y, float *dE, float *dA, float *ds, float *de)
{
    double expA[MS * MS], scratch[3 * MT * MS + MT + MS];
    crf_trans tr = {expA, 0, 0, NULL};
    crf_prepare(&tr, A, S);
    return crf_nll(E, &tr, st, en, T, y, dE, dA, ds, de, scratch);
}

static double gold_score(const float *E, const float *A, const float *st, const float *en, size_t T,
                         size_t S, const int *y)
{
    double g = st[y[0]] + en[y[T - 1]];
    for (size_t t = 0; t < T; t++)
        g += E[t * S + (size_t)y[t]] + (t ? A[y[t - 1] * (int)S + y[t]] : 0);
    return g;
}

TEST(crf_logz_matches_brute_force)
{
    rng r;
    rng_seed(&r, 7);
    for (size_t T = 1; T <= MT; T++)
        for (size_t S = 1; S <= MS; S++) {
            float E[MT * MS], A[MS * MS], st[MS], en[MS];
            fill(&r, E, T * S, 3);
            fill(&r, A, S * S, 3);
            fill(&r, st, S, 1);
            fill(&r, en, S, 1);
            int y[MT];
            for (size_t t = 0; t < T; t++) y[t] = (int)rng_below(&r, S);
            double brute = crf_logz_brute(E, A, st, en, T, S);
            CHECK_NEAR(crf_logz_ref(E, A, st, en, T, S), brute, 1e-9);
            double z = nll(E, A, st, en, T, S, y, NULL, NULL, NULL, NULL) +
                       gold_score(E, A, st, en, T, S, y);
            CHECK_NEAR(z, brute, 1e-4); /* float inputs, double sums */
        }
    /* large transition weights must not overflow the scaled pass */
    float E[2 * 2] = {0, 0, 0, 0}, A[4] = {400, -400, -400, 400}, st[2] = {0, 0}, en[2] = {0, 0};
    int y[2] = {0, 0};
    CHECK_NEAR(nll(E, A, st, en, 2, 2, y, NULL, NULL, NULL, NULL) + 400,
               crf_logz_brute(E, A, st, en, 2, 2), 1e-3);
}

TEST(crf_gradient_matches_finite_differences)
{
    rng r;
    rng_seed(&r, 11);
    size_t T = 4, S = 3;
    float E[MT * MS], A[MS * MS], st[MS], en[MS];
    fill(&r, E, T * S, 2);
    fill(&r, A, S * S, 2);
    fill(&r, st, S, 1);
    fill(&r, en, S, 1);
    int y[4] = {0, 2, 2, 1};
    float dE[MT * MS] = {0}, dA[MS * MS] = {0}, ds[MS] = {0}, de[MS] = {0};
    nll(E, A, st, en, T, S, y, dE, dA, ds, de);
    /* central differences on every parameter; tolerance covers float rounding at h=1e-2 */
    float *params[4] = {E, A, st, en}, *grads[4] = {dE, dA, ds, de};
    size_t sizes[4] = {T * S, S * S, S, S};
    for (int p = 0; p < 4; p++)
        for (size_t i = 0; i < sizes[p]; i++) {
            float keep = params[p][i], h = 1e-2f;
            params[p][i] = keep + h;
            double up = nll(E, A, st, en, T, S, y, NULL, NULL, NULL, NULL);
            params[p][i] = keep - h;
            double down = nll(E, A, st, en, T, S, y, NULL, NULL, NULL, NULL);
            params[p][i] = keep;
            CHECK_NEAR(grads[p][i], (up - down) / (2 * h), 2e-3);
        }
}

TEST(crf_viterbi_matches_brute_force)
{
    rng r;
    rng_seed(&r, 5);
    for (int trial = 0; trial < 20; trial++) {
        size_t T = 1 + rng_below(&r, MT), S = 1 + rng_below(&r, MS);
        float E[MT * MS], A[MS * MS], st[MS], en[MS];
        fill(&r, E, T * S, 3);
        fill(&r, A, S * S, 3);
        fill(&r, st, S, 1);
        fill(&r, en, S, 1);
        int y[MT], bp[MT * MS], best_y[MT];
        double scratch[MT * MS];
        double got = crf_viterbi(E, A, st, en, T, S, y, scratch, bp);
        double best = -INFINITY;
        size_t total = 1;
        for (size_t t = 0; t < T; t++) total *= S;
        for (size_t code = 0; code < total; code++) {
            int cand[MT];
            size_t c = code;
            for (size_t t = 0; t < T; t++, c /= S) cand[t] = (int)(c % S);
            double sc = gold_score(E, A, st, en, T, S, cand);
            if (sc > best) {
                best = sc;
                for (size_t t = 0; t < T; t++) best_y[t] = cand[t];
            }
        }
        CHECK_NEAR(got, best, 1e-4);
        for (size_t t = 0; t < T; t++) CHECK_INT(y[t], best_y[t]);
    }
}

TEST(crf_viterbi_matches_reference_exactly)
{
    /* label counts around the 4-wide steps and MASSIVE's 56; integer-valued scores make
     * ties, where the first label must win as in the reference */
    enum { T_MAX = 9, S_MAX = 70 };
    rng r;
    rng_seed(&r, 17);
    static float E[T_MAX * S_MAX], A[S_MAX * S_MAX];
    float st[S_MAX], en[S_MAX];
    static double sc1[T_MAX * S_MAX], sc2[T_MAX * S_MAX];
    static int bp1[T_MAX * S_MAX], bp2[T_MAX * S_MAX];
    for (int trial = 0; trial < 200; trial++) {
        size_t T = 1 + rng_below(&r, T_MAX), S = 1 + rng_below(&r, S_MAX);
        if (trial % 10 == 0) S = 56;
        int ties = trial % 2;
        float *arrs[4] = {E, A, st, en};
        size_t lens[4] = {T * S, S * S, S, S};
        for (int k = 0; k < 4; k++)
            for (size_t i = 0; i < lens[k]; i++)
                arrs[k][i] =
                    ties ? (float)rng_below(&r, 3) : (float)rng_below(&r, 20001) / 1000.0f - 10;
        if (trial == 7) A[3 % (S * S)] = NAN; /* a hostile model: still the same answer */
        int y1[T_MAX], y2[T_MAX];
        double ref = crf_viterbi_ref(E, A, st, en, T, S, y1, sc1, bp1);
        for (int simd = 0; simd < 2; simd++) {
            double got = crf_viterbi_impl(E, A, st, en, T, S, y2, sc2, bp2, simd);
            CHECK(memcmp(&got, &ref, sizeof got) == 0 || (isnan(got) && isnan(ref)));
            CHECK(memcmp(y1, y2, T * sizeof *y1) == 0);
        }
        double got = crf_viterbi(E, A, st, en, T, S, y2, sc2, bp2);
        CHECK(memcmp(y1, y2, T * sizeof *y1) == 0);
        (void)got;
    }
}

TEST(crf_marginals_match_brute_force)
{
    rng r;
    rng_seed(&r, 13);
    for (size_t T = 1; T <= MT; T++)
        for (size_t S = 1; S <= MS; S++) {
            float E[MT * MS], A[MS * MS], st[MS], en[MS];
            fill(&r, E, T * S, 3);
            fill(&r, A, S * S, 3);
            fill(&r, st, S, 1);
            fill(&r, en, S, 1);
            double expA[MS * MS], scratch[3 * MT * MS + MT + MS];
            double u[MT * MS], pr[MT * MS * MS], ub[MT * MS], pb[MT * MS * MS];
            crf_trans tr = {expA, 0, 0, NULL};
            crf_prepare(&tr, A, S);
            crf_marginals(E, &tr, st, en, T, u, pr, scratch);
            crf_marginals_brute(E, A, st, en, T, S, ub, pb);
            for (size_t i = 0; i < T * S; i++) CHECK_NEAR(u[i], ub[i], 1e-9);
            for (size_t i = 0; T > 1 && i < (T - 1) * S * S; i++) CHECK_NEAR(pr[i], pb[i], 1e-9);
        }
}

/* A random soft target: for each word a few unary entries, for each pair a few pairwise
 * entries, each set normalized to 1. */
static size_t soft_target(rng *r, size_t T, size_t S, uint32_t *off, crf_entry *q)
{
    size_t n = 0;
    for (size_t t = 0; t < T; t++) {
        off[t] = (uint32_t)n;
        for (int pass = 0; pass < (t ? 2 : 1); pass++) {
            size_t k0 = n, k = 1 + rng_below(r, 3);
            double sum = 0;
            for (size_t i = 0; i < k; i++, n++) {
                q[n].from = pass ? (uint16_t)rng_below(r, S) : CRF_UNARY;
                q[n].to = (uint16_t)rng_below(r, S);
                q[n].p = (float)(1 + rng_below(r, 100));
                sum += q[n].p;
            }
            for (size_t i = k0; i < n; i++) q[i].p = (float)(q[i].p / sum);
        }
    }
    off[T] = (uint32_t)n;
    return n;
}

static double xent(const float *E, const float *A, const float *st, const float *en, size_t T,
                   size_t S, const uint32_t *off, const crf_entry *q, float *dE, float *dA,
                   float *ds, float *de)
{
    double expA[MS * MS], scratch[3 * MT * MS + MT + MS];
    crf_trans tr = {expA, 0, 0, NULL};
    crf_prepare(&tr, A, S);
    return crf_xent(E, &tr, st, en, T, off, q, dE, dA, ds, de, scratch);
}

TEST(crf_soft_target_loss_matches_brute_force_and_gradient)
{
    rng r;
    rng_seed(&r, 17);
    size_t T = 4, S = 3;
    float E[MT * MS], A[MS * MS], st[MS], en[MS];
    fill(&r, E, T * S, 2);
    fill(&r, A, S * S, 2);
    fill(&r, st, S, 1);
    fill(&r, en, S, 1);
    uint32_t off[MT + 1];
    crf_entry q[MT * 8];
    soft_target(&r, T, S, off, q);
    /* loss = log Z - E_q[score], with E_q[score] summed entry by entry */
    double expect = 0;
    for (size_t t = 0; t < T; t++)
        for (uint32_t k = off[t]; k < off[t + 1]; k++) {
            if (q[k].from == CRF_UNARY)
                expect += q[k].p * (E[t * S + q[k].to] + (t == 0 ? st[q[k].to] : 0) +
                                    (t == T - 1 ? en[q[k].to] : 0));
            else
                expect += q[k].p * A[q[k].from * S + q[k].to];
        }
    CHECK_NEAR(xent(E, A, st, en, T, S, off, q, NULL, NULL, NULL, NULL),
               crf_logz_brute(E, A, st, en, T, S) - expect, 1e-4);
    /* a one-hot target is the gold-label NLL */
    int y[4] = {1, 0, 2, 2};
    uint32_t hoff[MT + 1];
    crf_entry hq[MT * 2];
    size_t n = 0;
    for (size_t t = 0; t < T; t++) {
        hoff[t] = (uint32_t)n;
        hq[n++] = (crf_entry){CRF_UNARY, (uint16_t)y[t], 1.0f};
        if (t) hq[n++] = (crf_entry){(uint16_t)y[t - 1], (uint16_t)y[t], 1.0f};
    }
    hoff[T] = (uint32_t)n;
    CHECK_NEAR(xent(E, A, st, en, T, S, hoff, hq, NULL, NULL, NULL, NULL),
               nll(E, A, st, en, T, S, y, NULL, NULL, NULL, NULL), 1e-9);
    /* gradient against central differences */
    float dE[MT * MS] = {0}, dA[MS * MS] = {0}, ds[MS] = {0}, de[MS] = {0};
    xent(E, A, st, en, T, S, off, q, dE, dA, ds, de);
    float *params[4] = {E, A, st, en}, *grads[4] = {dE, dA, ds, de};
    size_t sizes[4] = {T * S, S * S, S, S};
    for (int p = 0; p < 4; p++)
        for (size_t i = 0; i < sizes[p]; i++) {
            float keep = params[p][i], h = 1e-2f;
            params[p][i] = keep + h;
            double up = xent(E, A, st, en, T, S, off, q, NULL, NULL, NULL, NULL);
            params[p][i] = keep - h;
            double down = xent(E, A, st, en, T, S, off, q, NULL, NULL, NULL, NULL);
            params[p][i] = keep;
            CHECK_NEAR(grads[p][i], (up - down) / (2 * h), 2e-3);
        }
}
