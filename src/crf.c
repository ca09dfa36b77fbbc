/*
 * crf.c - linear-chain CRF: forward-backward for the negative log-likelihood and its
 * gradient, Viterbi for decoding, and a brute-force log Z used by the tests.
 * Reference: Lafferty, McCallum & Pereira (2001); Sutton & McCallum, "An Introduction to
 * Conditional Random Fields" (2012), sections 4.1 (forward-backward) and 5.1 (gradient).
 *
 * The gradient of NLL = log Z - score(y) w.r.t. an emission E[t,j] is the marginal
 * P(y_t = j) minus 1[y_t = j]; w.r.t. A[i,j] the summed pairwise marginals minus the count
 * of (i,j) transitions in y.
 */
#include "crf.h"

#include <math.h>

#include "core.h"

static double logsumexp(const double *v, size_t n)
{
    double m = -INFINITY, s = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] > m) m = v[i];
    if (m == -INFINITY) return m;
    for (size_t i = 0; i < n; i++) s += exp(v[i] - m);
    return m + log(s);
}

void crf_prepare(crf_trans *tr, const float *A, size_t S)
{
    double m = -INFINITY;
    for (size_t i = 0; i < S * S; i++)
        if (A[i] > m) m = A[i];
    for (size_t i = 0; i < S * S; i++) tr->expA[i] = exp((double)A[i] - m);
    tr->amax = m;
    tr->S = S;
    tr->A = A;
}

/* Forward-backward in probability space with per-step scaling (Rabiner 1989, sec. V.A):
 * a[t] are the forward probabilities normalized to sum 1 (c[t] the normalizers), b[t] the
 * backward ones under the same scaling, so P(y_t = j) = a[t,j] * b[t,j]. Emissions are
 * exponentiated once per word after subtracting their max; transitions come pre-exponentiated
 * in tr, so the inner loops hold no exp(): this is what makes CRF training affordable. */
double crf_nll(const float *E, const crf_trans *tr, const float *start, const float *end, size_t T,
               const int *y, float *dE, float *dA, float *dstart, float *dend, double *scratch)
{
    size_t S = tr->S;
    MILLE_ASSERT(T >= 1 && S >= 1);
    const double *eA = tr->expA;
    double *a = scratch, *b = a + T * S, *eE = b + T * S, *c = eE + T * S, *ee = c + T;
    double logz = (double)(T - 1) * tr->amax;
    for (size_t t = 0; t < T; t++) {
        double m = -INFINITY;
        for (size_t j = 0; j < S; j++) {
            double v = (double)E[t * S + j] + (t == 0 ? (double)start[j] : 0.0);
            eE[t * S + j] = v;
            if (v > m) m = v;
        }
        for (size_t j = 0; j < S; j++) eE[t * S + j] = exp(eE[t * S + j] - m);
        logz += m;
        double sum = 0;
        for (size_t j = 0; j < S; j++) {
            double v = eE[t * S + j];
            if (t) {
                double in = 0;
                for (size_t i = 0; i < S; i++) in += a[(t - 1) * S + i] * eA[i * S + j];
                v *= in;
            }
            a[t * S + j] = v;
            sum += v;
        }
        for (size_t j = 0; j < S; j++) a[t * S + j] /= sum;
        c[t] = sum;
        logz += log(sum);
    }
    double me = -INFINITY, zend = 0;
    for (size_t j = 0; j < S; j++)
        if (end[j] > me) me = end[j];
    for (size_t j = 0; j < S; j++) {
        ee[j] = exp((double)end[j] - me);
        zend += a[(T - 1) * S + j] * ee[j];
    }
    logz += me + log(zend);

    double gold = (double)start[y[0]] + end[y[T - 1]];
    for (size_t t = 0; t < T; t++) {
        gold += E[t * S + (size_t)y[t]];
        if (t) gold += tr->A[(size_t)y[t - 1] * S + (size_t)y[t]];
    }
    if (!dE) return logz - gold;

    for (size_t i = 0; i < S; i++) b[(T - 1) * S + i] = ee[i] / zend;
    for (size_t t = T - 1; t-- > 0;)
        for (size_t i = 0; i < S; i++) {
            double s = 0;
            for (size_t j = 0; j < S; j++)
                s += eA[i * S + j] * eE[(t + 1) * S + j] * b[(t + 1) * S + j];
            b[t * S + i] = s / c[t + 1];
        }
    for (size_t t = 0; t < T; t++)
        for (size_t j = 0; j < S; j++) {
            float p = (float)(a[t * S + j] * b[t * S + j]);
            dE[t * S + j] += p;
            if (t == 0) dstart[j] += p;
            if (t == T - 1) dend[j] += p;
        }
    for (size_t t = 1; t < T; t++)
        for (size_t i = 0; i < S; i++) {
            double ai = a[(t - 1) * S + i] / c[t];
            for (size_t j = 0; j < S; j++)
                dA[i * S + j] += (float)(ai * eA[i * S + j] * eE[t * S + j] * b[t * S + j]);
        }
    dstart[y[0]] -= 1;
    dend[y[T - 1]] -= 1;
    for (size_t t = 0; t < T; t++) {
        dE[t * S + (size_t)y[t]] -= 1;
        if (t) dA[(size_t)y[t - 1] * S + (size_t)y[t]] -= 1;
    }
    return logz - gold;
}

double crf_viterbi(const float *E, const float *A, const float *start, const float *end, size_t T,
                   size_t S, int *y, double *scratch, int *bp)
{
    MILLE_ASSERT(T >= 1 && S >= 1);
    double *v = scratch; /* (T,S) best score ending in j at t */
    for (size_t j = 0; j < S; j++) v[j] = (double)start[j] + E[j];
    for (size_t t = 1; t < T; t++)
        for (size_t j = 0; j < S; j++) {
            double best = -INFINITY;
            int arg = 0;
            for (size_t i = 0; i < S; i++) {
                double s = v[(t - 1) * S + i] + A[i * S + j];
                if (s > best) best = s, arg = (int)i;
            }
            v[t * S + j] = best + E[t * S + j];
            bp[t * S + j] = arg;
        }
    double best = -INFINITY;
    int arg = 0;
    for (size_t j = 0; j < S; j++) {
        double s = v[(T - 1) * S + j] + end[j];
        if (s > best) best = s, arg = (int)j;
    }
    y[T - 1] = arg;
    for (size_t t = T - 1; t > 0; t--) y[t - 1] = bp[t * S + (size_t)y[t]];
    return best;
}

double crf_logz_ref(const float *E, const float *A, const float *start, const float *end, size_t T,
                    size_t S)
{
    double prev[512], cur[512], tmp[512];
    MILLE_ASSERT(S <= 512);
    for (size_t j = 0; j < S; j++) prev[j] = (double)start[j] + E[j];
    for (size_t t = 1; t < T; t++) {
        for (size_t j = 0; j < S; j++) {
            for (size_t i = 0; i < S; i++) tmp[i] = prev[i] + A[i * S + j];
            cur[j] = logsumexp(tmp, S) + E[t * S + j];
        }
        for (size_t j = 0; j < S; j++) prev[j] = cur[j];
    }
    for (size_t j = 0; j < S; j++) tmp[j] = prev[j] + end[j];
    return logsumexp(tmp, S);
}

double crf_logz_brute(const float *E, const float *A, const float *start, const float *end,
                      size_t T, size_t S)
{
    size_t total = 1;
    for (size_t t = 0; t < T; t++) total *= S;
    double m = -INFINITY, s = 0;
    /* two passes: max, then sum of exp - max */
    for (int pass = 0; pass < 2; pass++)
        for (size_t code = 0; code < total; code++) {
            size_t c = code, prev = 0;
            double sc = 0;
            for (size_t t = 0; t < T; t++) {
                size_t j = c % S;
                c /= S;
                sc += (double)E[t * S + j] + (t ? A[prev * S + j] : start[j]);
                prev = j;
            }
            sc += end[prev];
            if (pass == 0) {
                if (sc > m) m = sc;
            } else {
                s += exp(sc - m);
            }
        }
    return m + log(s);
}
