/*
 * crf.c - linear-chain CRF: forward-backward for the negative log-likelihood and its
 * gradient, Viterbi for decoding (its step vectorized with AVX2 when the CPU has it; the
 * plain loop is kept as crf_viterbi_ref, and the tests compare them exactly), and a
 * brute-force log Z used by the tests.
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
 * in tr, so the inner loops hold no exp(): this is what makes CRF training affordable.
 * Returns log Z; with backward != 0 also fills b, so that marginals can be read off. */
static double crf_fb(const float *E, const crf_trans *tr, const float *start, const float *end,
                     size_t T, int backward, double *scratch)
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
    if (!backward) return logz;
    for (size_t i = 0; i < S; i++) b[(T - 1) * S + i] = ee[i] / zend;
    for (size_t t = T - 1; t-- > 0;)
        for (size_t i = 0; i < S; i++) {
            double s = 0;
            for (size_t j = 0; j < S; j++)
                s += eA[i * S + j] * eE[(t + 1) * S + j] * b[(t + 1) * S + j];
            b[t * S + i] = s / c[t + 1];
        }
    return logz;
}

/* After crf_fb: P(y_t = j) = a[t,j] b[t,j]; P(y_{t-1} = i, y_t = j) =
 * a[t-1,i] / c[t] * expA[i,j] * eE[t,j] * b[t,j]. */
#define CRF_VIEWS(scratch, T, S)                                                                   \
    const double *a = (scratch), *b = a + (T) * (S), *eE = b + (T) * (S), *c = eE + (T) * (S)

/* Add the model's marginals to the gradient buffers (the log Z part of every loss here). */
static void crf_add_marginals(const crf_trans *tr, size_t T, const double *scratch, float *dE,
                              float *dA, float *dstart, float *dend)
{
    size_t S = tr->S;
    const double *eA = tr->expA;
    CRF_VIEWS(scratch, T, S);
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
}

double crf_nll(const float *E, const crf_trans *tr, const float *start, const float *end, size_t T,
               const int *y, float *dE, float *dA, float *dstart, float *dend, double *scratch)
{
    size_t S = tr->S;
    double logz = crf_fb(E, tr, start, end, T, dE != NULL, scratch);
    double gold = (double)start[y[0]] + end[y[T - 1]];
    for (size_t t = 0; t < T; t++) {
        gold += E[t * S + (size_t)y[t]];
        if (t) gold += tr->A[(size_t)y[t - 1] * S + (size_t)y[t]];
    }
    if (!dE) return logz - gold;
    crf_add_marginals(tr, T, scratch, dE, dA, dstart, dend);
    dstart[y[0]] -= 1;
    dend[y[T - 1]] -= 1;
    for (size_t t = 0; t < T; t++) {
        dE[t * S + (size_t)y[t]] -= 1;
        if (t) dA[(size_t)y[t - 1] * S + (size_t)y[t]] -= 1;
    }
    return logz - gold;
}

/* One Viterbi step, in the reference's terms: for every label j, the best of v_prev[i] +
 * A[i][j] over i (the first i on ties: strictly greater replaces) and its argmax. Here i is
 * the outer loop, so that the inner loop runs over j in contiguous memory. */
static void viterbi_step(const double *pv, const float *A, size_t S, double *cv, int *bp)
{
    for (size_t j = 0; j < S; j++) cv[j] = -INFINITY, bp[j] = 0;
    for (size_t i = 0; i < S; i++) {
        const float *a = A + i * S;
        for (size_t j = 0; j < S; j++) {
            double s = pv[i] + a[j];
            if (s > cv[j]) cv[j] = s, bp[j] = (int)i;
        }
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define CRF_X86 1
/* viterbi_step four labels at a time: the same double sums and the same strict comparison
 * per (i, j), so the same scores and argmaxes, NaN included (an unordered compare is false,
 * as in the scalar code). It was 17% of an int8 parse's instructions as scalar code. */
__attribute__((target("avx2"))) static void viterbi_step_avx2(const double *pv, const float *A,
                                                              size_t S, double *cv, int *bp)
{
    for (size_t j = 0; j < S; j++) cv[j] = -INFINITY, bp[j] = 0;
    const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7); /* low halves of lanes */
    size_t S4 = S & ~(size_t)3;
    for (size_t i = 0; i < S; i++) {
        const float *a = A + i * S;
        __m256d p = _mm256_set1_pd(pv[i]);
        __m128i vi = _mm_set1_epi32((int)i);
        for (size_t j = 0; j < S4; j += 4) {
            __m256d s = _mm256_add_pd(p, _mm256_cvtps_pd(_mm_loadu_ps(a + j)));
            __m256d c = _mm256_loadu_pd(cv + j);
            __m256d gt = _mm256_cmp_pd(s, c, _CMP_GT_OQ);
            _mm256_storeu_pd(cv + j, _mm256_blendv_pd(c, s, gt));
            __m128i m =
                _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(gt), even));
            __m128i *b = (__m128i *)(void *)(bp + j);
            _mm_storeu_si128(b, _mm_blendv_epi8(_mm_loadu_si128(b), vi, m));
        }
        for (size_t j = S4; j < S; j++) {
            double s = pv[i] + a[j];
            if (s > cv[j]) cv[j] = s, bp[j] = (int)i;
        }
    }
}
#else
#define CRF_X86 0
#endif

static double viterbi(const float *E, const float *A, const float *start, const float *end,
                      size_t T, size_t S, int *y, double *scratch, int *bp, int simd)
{
    MILLE_ASSERT(T >= 1 && S >= 1);
    double *v = scratch; /* (T,S) best score ending in j at t */
    for (size_t j = 0; j < S; j++) v[j] = (double)start[j] + E[j];
    for (size_t t = 1; t < T; t++) {
#if CRF_X86
        if (simd)
            viterbi_step_avx2(v + (t - 1) * S, A, S, v + t * S, bp + t * S);
        else
#endif
            viterbi_step(v + (t - 1) * S, A, S, v + t * S, bp + t * S);
        for (size_t j = 0; j < S; j++) v[t * S + j] += E[t * S + j];
    }
    (void)simd;
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

/* The cross-entropy from a target distribution q over label sequences to the CRF,
 * -E_q[log p(y)] = log Z - E_q[score(y)], is linear in q's unary and pairwise marginals:
 * E_q[score] = sum_t sum_j q_t(j) E[t,j] + sum_j q_0(j) start[j] + sum_j q_{T-1}(j) end[j]
 *            + sum_{t>=1} sum_{i,j} q_{t-1,t}(i,j) A[i,j].
 * So the gradient is the model's marginals minus q's, exactly as for gold labels (which are
 * the q that puts all mass on one sequence), and a mixture of teachers is handled by
 * averaging their marginals. */
double crf_xent(const float *E, const crf_trans *tr, const float *start, const float *end, size_t T,
                const uint32_t *off, const crf_entry *q, float *dE, float *dA, float *dstart,
                float *dend, double *scratch)
{
    size_t S = tr->S;
    double logz = crf_fb(E, tr, start, end, T, dE != NULL, scratch);
    double expect = 0;
    for (size_t t = 0; t < T; t++)
        for (uint32_t k = off[t]; k < off[t + 1]; k++) {
            const crf_entry *e = &q[k];
            double w = e->p;
            if (e->from == CRF_UNARY) {
                expect += w * ((double)E[t * S + e->to] + (t == 0 ? start[e->to] : 0.0) +
                               (t == T - 1 ? end[e->to] : 0.0));
                if (dE) {
                    dE[t * S + e->to] -= e->p;
                    if (t == 0) dstart[e->to] -= e->p;
                    if (t == T - 1) dend[e->to] -= e->p;
                }
            } else {
                expect += w * tr->A[(size_t)e->from * S + e->to];
                if (dE) dA[(size_t)e->from * S + e->to] -= e->p;
            }
        }
    if (dE) crf_add_marginals(tr, T, scratch, dE, dA, dstart, dend);
    return logz - expect;
}

void crf_marginals(const float *E, const crf_trans *tr, const float *start, const float *end,
                   size_t T, double *unary, double *pair, double *scratch)
{
    size_t S = tr->S;
    const double *eA = tr->expA;
    crf_fb(E, tr, start, end, T, 1, scratch);
    CRF_VIEWS(scratch, T, S);
    for (size_t t = 0; t < T; t++)
        for (size_t j = 0; j < S; j++) unary[t * S + j] = a[t * S + j] * b[t * S + j];
    if (!pair) return;
    for (size_t t = 1; t < T; t++)
        for (size_t i = 0; i < S; i++) {
            double ai = a[(t - 1) * S + i] / c[t];
            double *pr = pair + ((t - 1) * S + i) * S;
            for (size_t j = 0; j < S; j++)
                pr[j] = ai * eA[i * S + j] * eE[t * S + j] * b[t * S + j];
        }
}

double crf_viterbi(const float *E, const float *A, const float *start, const float *end, size_t T,
                   size_t S, int *y, double *scratch, int *bp)
{
#if CRF_X86
    int simd = __builtin_cpu_supports("avx2");
#else
    int simd = 0;
#endif
    return viterbi(E, A, start, end, T, S, y, scratch, bp, simd);
}

double crf_viterbi_ref(const float *E, const float *A, const float *start, const float *end,
                       size_t T, size_t S, int *y, double *scratch, int *bp)
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

/* For tests: the scalar version of crf_viterbi's loop order (simd = 0) and, where the CPU has
 * AVX2, its vector version (simd = 1). */
double crf_viterbi_impl(const float *E, const float *A, const float *start, const float *end,
                        size_t T, size_t S, int *y, double *scratch, int *bp, int simd)
{
#if CRF_X86
    if (simd && !__builtin_cpu_supports("avx2")) simd = 0;
#else
    simd = 0;
#endif
    return viterbi(E, A, start, end, T, S, y, scratch, bp, simd);
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

void crf_marginals_brute(const float *E, const float *A, const float *start, const float *end,
                         size_t T, size_t S, double *unary, double *pair)
{
    double logz = crf_logz_brute(E, A, start, end, T, S);
    size_t total = 1;
    for (size_t t = 0; t < T; t++) total *= S;
    for (size_t i = 0; i < T * S; i++) unary[i] = 0;
    for (size_t i = 0; T > 1 && i < (T - 1) * S * S; i++) pair[i] = 0;
    int y[16];
    MILLE_ASSERT(T <= 16);
    for (size_t code = 0; code < total; code++) {
        size_t cc = code;
        double sc = 0;
        for (size_t t = 0; t < T; t++) {
            y[t] = (int)(cc % S);
            cc /= S;
            sc += (double)E[t * S + (size_t)y[t]] +
                  (t ? A[(size_t)y[t - 1] * S + (size_t)y[t]] : start[y[t]]);
        }
        sc += end[y[T - 1]];
        double p = exp(sc - logz);
        for (size_t t = 0; t < T; t++) {
            unary[t * S + (size_t)y[t]] += p;
            if (t) pair[((t - 1) * S + (size_t)y[t - 1]) * S + (size_t)y[t]] += p;
        }
    }
}
