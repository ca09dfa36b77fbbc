/*
 * crf.h - linear-chain conditional random field over word labels (Lafferty et al. 2001).
 * Shapes: T words, S labels. score(y) = start[y0] + sum_t E[t,y_t] + sum_t A[y_{t-1},y_t]
 * + end[y_{T-1}].
 */
#ifndef MILLE_CRF_H
#define MILLE_CRF_H

#include <stddef.h>
#include <stdint.h>

/* exp(A - max A), computed once per weight update and shared by every crf_nll call. */
typedef struct crf_trans {
    double *expA; /* (S,S) */
    double amax;
    size_t S;
    const float *A; /* (S,S) the weights expA came from */
} crf_trans;
/* Fill tr from A (S,S); tr->expA must hold S*S doubles. */
void crf_prepare(crf_trans *tr, const float *A, size_t S);

/* Doubles of scratch crf_nll needs for T words. */
static inline size_t crf_scratch_doubles(size_t T, size_t S) { return 3 * T * S + T + S; }

/* Negative log-likelihood of gold labels y (T) and, if dE is non-NULL, ADD its gradients
 * into dE (T,S), dA (S,S), dstart (S), dend (S). E: (T,S). T >= 1. */
double crf_nll(const float *E, const crf_trans *tr, const float *start, const float *end, size_t T,
               const int *y, float *dE, float *dA, float *dstart, float *dend, double *scratch);

/* One entry of a soft target: the probability p that word t has label `to` (from ==
 * CRF_UNARY), or that words t-1 and t have labels (from, to). */
#define CRF_UNARY 0xffffu
typedef struct crf_entry {
    uint16_t from, to;
    float p;
} crf_entry;

/* Cross-entropy -E_q[log p(y)] from a soft target q to the CRF, and, if dE is non-NULL, ADD
 * its gradients (marginals of the model minus q's). Word t's entries are q[off[t] ..
 * off[t+1]); each word's unary entries and each pair's entries should sum to 1. Same
 * scratch as crf_nll. Distillation from teachers' marginals uses it. */
double crf_xent(const float *E, const crf_trans *tr, const float *start, const float *end, size_t T,
                const uint32_t *off, const crf_entry *q, float *dE, float *dA, float *dstart,
                float *dend, double *scratch);

/* Marginals: unary (T,S) P(y_t = j); pair (T-1,S,S) P(y_{t-1} = i, y_t = j), or NULL.
 * Same scratch as crf_nll. */
void crf_marginals(const float *E, const crf_trans *tr, const float *start, const float *end,
                   size_t T, double *unary, double *pair, double *scratch);

/* Best label sequence into y (T); returns its score. scratch: T*S doubles; bp: T*S ints. */
double crf_viterbi(const float *E, const float *A, const float *start, const float *end, size_t T,
                   size_t S, int *y, double *scratch, int *bp);

/* The original loop order (for each j, the best i), the reference crf_viterbi must match
 * exactly (same labels, same score bits); and crf_viterbi's own loop as scalar code
 * (simd = 0) or with AVX2 (simd = 1, when the CPU has it), for the tests. */
double crf_viterbi_ref(const float *E, const float *A, const float *start, const float *end,
                       size_t T, size_t S, int *y, double *scratch, int *bp);
double crf_viterbi_impl(const float *E, const float *A, const float *start, const float *end,
                        size_t T, size_t S, int *y, double *scratch, int *bp, int simd);

/* Plain reference for tests: log Z by the log-space forward algorithm, and by enumerating
 * all S^T sequences (tiny inputs only). */
double crf_logz_ref(const float *E, const float *A, const float *start, const float *end, size_t T,
                    size_t S);
double crf_logz_brute(const float *E, const float *A, const float *start, const float *end,
                      size_t T, size_t S);
/* Marginals by enumeration (tiny inputs, T <= 16), for tests. */
void crf_marginals_brute(const float *E, const float *A, const float *start, const float *end,
                         size_t T, size_t S, double *unary, double *pair);

#endif
