/*
 * quant.h - int8 inference kernels: weights stored as int8 with one float scale per row
 * (per output channel), activations quantized per row (per word) on the fly, products
 * accumulated in int32 and dequantized with the two scales.
 *
 *     W[r][k] ~ ws[r] * Wq[r][k]      Wq in [-127, 127], ws[r] = max_k |W[r][k]| / 127
 *     A[i][k] ~ as[i] * Aq[i][k]      Aq in [-127, 127], as[i] = max_k |A[i][k]| / 127
 *     Y[i][r] = as[i] * ws[r] * sum_k Aq[i][k] * Wq[r][k]         (the sum exact in int32)
 *
 * Both sides are symmetric signed int8 (no zero points), so every kernel computes the same
 * integer sums. -128 is never produced, which is what lets the SIMD kernels move the sign
 * of the activation onto the weight and use the unsigned x signed byte products of the
 * CPU (AVX2 vpmaddubsw, AVX-512 VNNI vpdpbusd) without saturation; see quant.c.
 *
 * Shape vocabulary: N activation rows (words), K inner width, R weight rows (outputs).
 */
#ifndef MILLE_QUANT_H
#define MILLE_QUANT_H

#include <stddef.h>
#include <stdint.h>

/* An int8 matrix with per-row scales; both arrays are owned elsewhere (a model file map or
 * a model's own block). q == NULL means "not quantized". */
typedef struct q8_mat {
    const int8_t *q;    /* (R, K) row-major */
    const float *scale; /* (R) */
    size_t rows, cols;  /* R, K */
} q8_mat;

/* The largest K: |sum| <= K * 127 * 127 must fit an int32. */
#define Q8_MAX_K 65536

/* Kernels of the integer dot products, best last. */
enum { Q8_REF = 0, Q8_AVX2 = 1, Q8_VNNI = 2, Q8_NKERNELS = 3 };

/* 1 if kernel k can run on this CPU (Q8_REF always; the others on x86-64 with the CPU
 * feature, detected at run time). */
int q8_kernel_available(int k);
/* The kernel q8_dots and q8_gemm use: the best available unless q8_set_kernel chose one. */
int q8_kernel_active(void);
/* Force kernel k (tests, benchmarks); -1 returns to the best available. Returns 0, or -1
 * (and changes nothing) when k is not available. Process-wide: call it before threads
 * parse. */
int q8_set_kernel(int k);
const char *q8_kernel_name(int k);

/* Quantize `rows` rows of `cols` floats (row stride ldx) to q (rows, cols) and scale (rows).
 * A row of zeros (or of non-finite values only) gets scale 0 and all-zero codes; NaN
 * entries become 0 and infinities saturate, so hostile weights never reach undefined
 * float-to-int conversions. Rounds half away from zero. The AVX2 path (when the active
 * kernel is AVX2 or VNNI) gives the same bits as the plain-C one. */
void q8_quantize_rows(const float *x, size_t rows, size_t cols, size_t ldx, int8_t *q,
                      float *scale);

/* x[k] += s * q[k] for k < n (an int8 embedding row into a float sum; no FMA, so every
 * kernel gives the same bits). */
void q8_axpy(float *x, float s, const int8_t *q, size_t n);

/* out[i * R + r] = sum_k a[i * K + k] * w->q[r * K + k] for i < N, r < R, with kernel
 * `kernel` (which must be available). Codes must lie in [-127, 127] (q8_quantize_rows
 * guarantees it); K <= Q8_MAX_K. */
void q8_dots(int kernel, size_t N, const int8_t *a, const q8_mat *w, int32_t *out);

/* Scratch of q8_gemm, grown on demand (zero-initialize; one per thread). */
typedef struct q8_scratch {
    int8_t *a;    /* (N, K) quantized activations */
    float *as;    /* (N) their scales */
    int32_t *acc; /* (N, R) */
    size_t cap_a, cap_as, cap_acc;
} q8_scratch;
void q8_scratch_free(q8_scratch *s);

/* Y (N, R) (row stride ldy) = A (N, K) (row stride lda) W^T, A quantized per row, with the
 * active kernel. Returns 0 or MILLE_ENOMEM. */
int q8_gemm(size_t N, const float *A, size_t lda, const q8_mat *w, float *Y, size_t ldy,
            q8_scratch *s);

#endif
