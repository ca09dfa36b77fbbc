/*
 * quant.c - int8 matrix products for inference (the format is described in quant.h):
 * per-row symmetric quantization, and the integer dot products of quantized activations
 * with quantized weight rows, in three kernels chosen at run time:
 *
 *   reference  plain C, int32 sums: the definition the others are tested against (exactly:
 *              integer sums have no rounding, so "equal" is the only tolerance);
 *   AVX2       32 bytes at a time: vpmaddubsw (u8 x s8 -> pairs summed into s16) and
 *              vpmaddwd with ones (-> s32);
 *   VNNI       AVX-512 VNNI, 64 bytes at a time: vpdpbusd (u8 x s8, four products summed
 *              into each s32 lane, not saturating); the tail of a row through masked loads.
 *
 * Both SIMD kernels multiply unsigned by signed bytes, and our activations are signed. The
 * usual way out is a zero point (store a + 128 as u8, subtract 128 * rowsum(W)); we move the
 * sign instead: a * w = |a| * (sign(a) w), with |a| <= 127 as the unsigned operand and the
 * weight negated where a < 0 (|w| <= 127, so the negation cannot overflow: -128 is never a
 * code). This needs no row sums and no per-model state, and it keeps vpmaddubsw exact: a
 * pair of products is at most 2 * 127 * 127 = 32258 < 32767, so its s16 saturation never
 * triggers (with a zero point, 255 * 127 * 2 would). vpdpbusd accumulates in s32 without
 * saturation, and |sum| <= K * 127^2 < 2^31 for K <= Q8_MAX_K.
 *
 * The SIMD kernels are compiled with function-level target attributes, so the build needs
 * no -mavx flags and the binary runs on any x86-64; __builtin_cpu_supports picks the kernel
 * when it is first used (the OS support of the wide registers is part of that check).
 * Other architectures compile the reference only.
 *
 * The quantization of activations (one row at a time: a max, a product, a rounding) and the
 * int8 embedding rows' accumulation have AVX2 versions too, used whenever the AVX2 or VNNI
 * kernel is; they repeat the reference's float operations one for one, so the codes and sums
 * are the same bits with every kernel (tested).
 *
 * Not here: the model's use of these (model.c), the file storage (modelio.c).
 * Reference: Jacob et al. 2018, "Quantization and Training of Neural Networks for Efficient
 * Integer-Arithmetic-Only Inference" (per-channel symmetric weights, dynamic activations).
 */
#include "quant.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define Q8_X86 1
#include <immintrin.h>
#else
#define Q8_X86 0
#endif

/* ---- quantization ------------------------------------------------------------------------- */

/* One row: the reference. The SIMD versions below must give the same codes and scale bit
 * for bit (they do the same float operations: a max, one product, one sum, a truncation;
 * q8_quantize_matches_reference checks it). */
static void quant_row_ref(const float *xr, size_t cols, int8_t *qr, float *scale)
{
    /* the largest finite magnitude sets the scale (NaN fails both comparisons) */
    float amax = 0;
    for (size_t k = 0; k < cols; k++) {
        float v = fabsf(xr[k]);
        if (v > amax && v <= FLT_MAX) amax = v;
    }
    if (amax == 0) {
        memset(qr, 0, cols);
        *scale = 0;
        return;
    }
    *scale = amax / 127.0f;
    float inv = 127.0f / amax;
    for (size_t k = 0; k < cols; k++) {
        float v = xr[k] * inv;
        /* round half away from zero; clamp before converting (no UB on inf or NaN) */
        int c = v >= 127.0f    ? 127
                : v <= -127.0f ? -127
                : v == v       ? (int)(v + (v >= 0 ? 0.5f : -0.5f))
                               : 0;
        qr[k] = (int8_t)c;
    }
}

/* x[k] += s * q[k]: the reference (a product and a sum, each rounded: no FMA). */
static void axpy_ref(float *x, float s, const int8_t *q, size_t n)
{
    for (size_t k = 0; k < n; k++) x[k] += s * (float)q[k];
}

#if Q8_X86
/* quant_row_ref eight floats at a time. Where the reference branches, this masks: NaN
 * becomes +0 before the clamp (so it rounds to code 0, as in the reference), the clamp to
 * +-127 then +-0.5 truncates to +-127, and the half is added with v's sign bit (-0 gets
 * -0.5 here and +0.5 there: both truncate to 0). */
__attribute__((target("avx2"))) static void quant_row_avx2(const float *xr, size_t cols, int8_t *qr,
                                                           float *scale)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 fmax = _mm256_set1_ps(FLT_MAX);
    __m256 m = _mm256_setzero_ps();
    size_t k = 0, c8 = cols & ~(size_t)7;
    for (; k < c8; k += 8) {
        __m256 a = _mm256_and_ps(_mm256_loadu_ps(xr + k), absmask);
        a = _mm256_and_ps(a, _mm256_cmp_ps(a, fmax, _CMP_LE_OQ)); /* inf, NaN -> 0 */
        m = _mm256_max_ps(m, a);
    }
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    float amax = _mm_cvtss_f32(h); /* a max is exact: the order does not matter */
    for (; k < cols; k++) {
        float v = fabsf(xr[k]);
        if (v > amax && v <= FLT_MAX) amax = v;
    }
    if (amax == 0) {
        memset(qr, 0, cols);
        *scale = 0;
        return;
    }
    *scale = amax / 127.0f;
    float inv = 127.0f / amax;
    const __m256 vinv = _mm256_set1_ps(inv), hi = _mm256_set1_ps(127.0f),
                 lo = _mm256_set1_ps(-127.0f), half = _mm256_set1_ps(0.5f),
                 sign = _mm256_set1_ps(-0.0f);
    for (k = 0; k < c8; k += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(xr + k), vinv);
        v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
        v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
        v = _mm256_add_ps(v, _mm256_or_ps(half, _mm256_and_ps(v, sign)));
        __m256i i32 = _mm256_cvttps_epi32(v);
        __m128i i16 =
            _mm_packs_epi32(_mm256_castsi256_si128(i32), _mm256_extracti128_si256(i32, 1));
        _mm_storel_epi64((__m128i *)(void *)(qr + k), _mm_packs_epi16(i16, i16));
    }
    for (; k < cols; k++) {
        float v = xr[k] * inv;
        int c = v >= 127.0f    ? 127
                : v <= -127.0f ? -127
                : v == v       ? (int)(v + (v >= 0 ? 0.5f : -0.5f))
                               : 0;
        qr[k] = (int8_t)c;
    }
}

/* y[r] = (float)acc[r] * (as * ws[r]): the dequantization, the same two products per
 * element as the reference loop in q8_gemm. */
__attribute__((target("avx2"))) static void dequant_avx2(float *y, const int32_t *acc, float as,
                                                         const float *ws, size_t R)
{
    const __m256 va = _mm256_set1_ps(as);
    size_t r = 0;
    for (; r + 8 <= R; r += 8) {
        __m256 t = _mm256_mul_ps(va, _mm256_loadu_ps(ws + r));
        __m256 v = _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(const void *)(acc + r)));
        _mm256_storeu_ps(y + r, _mm256_mul_ps(v, t));
    }
    for (; r < R; r++) y[r] = (float)acc[r] * (as * ws[r]);
}

/* axpy_ref eight at a time: the same product and sum per element (mul, then add). */
__attribute__((target("avx2"))) static void axpy_avx2(float *x, float s, const int8_t *q, size_t n)
{
    const __m256 vs = _mm256_set1_ps(s);
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256i q32 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(q + k)));
        __m256 p = _mm256_mul_ps(vs, _mm256_cvtepi32_ps(q32));
        _mm256_storeu_ps(x + k, _mm256_add_ps(_mm256_loadu_ps(x + k), p));
    }
    for (; k < n; k++) x[k] += s * (float)q[k];
}
#endif

/* ---- kernels ------------------------------------------------------------------------------- */

/* out (N, R) = a (N, K) q^T; q is (R, K). */
typedef void (*dots_fn)(size_t N, const int8_t *a, const int8_t *q, size_t R, size_t K,
                        int32_t *out);

static void dots_ref(size_t N, const int8_t *a, const int8_t *q, size_t R, size_t K, int32_t *out)
{
    for (size_t i = 0; i < N; i++)
        for (size_t r = 0; r < R; r++) {
            int32_t s = 0;
            for (size_t k = 0; k < K; k++) s += (int32_t)a[i * K + k] * q[r * K + k];
            out[i * R + r] = s;
        }
}

#if Q8_X86
/* Sum of the 8 int32 lanes. */
__attribute__((target("avx2"))) static inline int32_t hsum256(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e)); /* swap 64-bit halves */
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1)); /* swap 32-bit pairs */
    return _mm_cvtsi128_si32(s);
}

/* One 32-byte step of a row: acc += sum of |a| * (sign(a) w) in 8 int32 lanes. */
__attribute__((target("avx2"))) static inline __m256i step256(__m256i acc, __m256i au, __m256i av,
                                                              const int8_t *w)
{
    __m256i wv = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(const void *)w), av);
    __m256i p16 = _mm256_maddubs_epi16(au, wv); /* exact: |pair| <= 32258 */
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

/* Four weight rows per activation load; the K % 32 tail in scalar code. */
__attribute__((target("avx2"))) static void dots_avx2(size_t N, const int8_t *a, const int8_t *q,
                                                      size_t R, size_t K, int32_t *out)
{
    size_t K32 = K & ~(size_t)31;
    for (size_t i = 0; i < N; i++) {
        const int8_t *ai = a + i * K;
        size_t r = 0;
        for (; r + 4 <= R; r += 4) {
            const int8_t *w0 = q + r * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
            __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
            for (size_t k = 0; k < K32; k += 32) {
                __m256i av = _mm256_loadu_si256((const __m256i *)(const void *)(ai + k));
                __m256i au = _mm256_abs_epi8(av);
                s0 = step256(s0, au, av, w0 + k);
                s1 = step256(s1, au, av, w1 + k);
                s2 = step256(s2, au, av, w2 + k);
                s3 = step256(s3, au, av, w3 + k);
            }
            int32_t t0 = hsum256(s0), t1 = hsum256(s1), t2 = hsum256(s2), t3 = hsum256(s3);
            for (size_t k = K32; k < K; k++) {
                t0 += (int32_t)ai[k] * w0[k];
                t1 += (int32_t)ai[k] * w1[k];
                t2 += (int32_t)ai[k] * w2[k];
                t3 += (int32_t)ai[k] * w3[k];
            }
            out[i * R + r] = t0, out[i * R + r + 1] = t1;
            out[i * R + r + 2] = t2, out[i * R + r + 3] = t3;
        }
        for (; r < R; r++) {
            const int8_t *w0 = q + r * K;
            __m256i s0 = _mm256_setzero_si256();
            for (size_t k = 0; k < K32; k += 32) {
                __m256i av = _mm256_loadu_si256((const __m256i *)(const void *)(ai + k));
                s0 = step256(s0, _mm256_abs_epi8(av), av, w0 + k);
            }
            int32_t t0 = hsum256(s0);
            for (size_t k = K32; k < K; k++) t0 += (int32_t)ai[k] * w0[k];
            out[i * R + r] = t0;
        }
    }
}

#define Q8_VNNI_TARGET "avx512f,avx512bw,avx512vnni"

/* One 64-byte step: acc += |a| * (w negated where a < 0), four bytes into each lane. */
__attribute__((target(Q8_VNNI_TARGET))) static inline __m512i
step512(__m512i acc, __m512i au, __mmask64 neg, __mmask64 m, const int8_t *w)
{
    __m512i wv = _mm512_maskz_loadu_epi8(m, w);
    wv = _mm512_mask_sub_epi8(wv, neg, _mm512_setzero_si512(), wv);
    return _mm512_dpbusd_epi32(acc, au, wv);
}

/* The four sums of four accumulators, as four lanes: integer adds in any order are exact. */
__attribute__((target(Q8_VNNI_TARGET))) static inline __m128i reduce4(__m512i s0, __m512i s1,
                                                                      __m512i s2, __m512i s3)
{
    __m256i a0 = _mm256_add_epi32(_mm512_castsi512_si256(s0), _mm512_extracti64x4_epi64(s0, 1));
    __m256i a1 = _mm256_add_epi32(_mm512_castsi512_si256(s1), _mm512_extracti64x4_epi64(s1, 1));
    __m256i a2 = _mm256_add_epi32(_mm512_castsi512_si256(s2), _mm512_extracti64x4_epi64(s2, 1));
    __m256i a3 = _mm256_add_epi32(_mm512_castsi512_si256(s3), _mm512_extracti64x4_epi64(s3, 1));
    __m128i b0 = _mm_add_epi32(_mm256_castsi256_si128(a0), _mm256_extracti128_si256(a0, 1));
    __m128i b1 = _mm_add_epi32(_mm256_castsi256_si128(a1), _mm256_extracti128_si256(a1, 1));
    __m128i b2 = _mm_add_epi32(_mm256_castsi256_si128(a2), _mm256_extracti128_si256(a2, 1));
    __m128i b3 = _mm_add_epi32(_mm256_castsi256_si128(a3), _mm256_extracti128_si256(a3, 1));
    return _mm_hadd_epi32(_mm_hadd_epi32(b0, b1), _mm_hadd_epi32(b2, b3));
}

/* Four weight rows per activation load; the tail of each row (K % 64) through a masked
 * load, which neither reads nor faults past the row (masked-off bytes are zero: |a| = 0).
 * An activation row without negative codes (every layer after the first reads ReLU
 * outputs) skips the sign step: |a| = a and the weights stay as they are. */
__attribute__((target(Q8_VNNI_TARGET))) static void
dots_vnni(size_t N, const int8_t *a, const int8_t *q, size_t R, size_t K, int32_t *out)
{
    for (size_t i = 0; i < N; i++) {
        const int8_t *ai = a + i * K;
        __mmask64 anyneg = 0;
        for (size_t k = 0; k < K; k += 64) {
            __mmask64 m = K - k >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (K - k)) - 1;
            anyneg |= _mm512_movepi8_mask(_mm512_maskz_loadu_epi8(m, ai + k));
        }
        size_t r = 0;
        for (; r + 4 <= R; r += 4) {
            const int8_t *w0 = q + r * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
            __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
            for (size_t k = 0; k < K; k += 64) {
                __mmask64 m = K - k >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (K - k)) - 1;
                __m512i av = _mm512_maskz_loadu_epi8(m, ai + k);
                if (anyneg) {
                    __m512i au = _mm512_abs_epi8(av);
                    __mmask64 neg = _mm512_movepi8_mask(av); /* the sign bits */
                    s0 = step512(s0, au, neg, m, w0 + k);
                    s1 = step512(s1, au, neg, m, w1 + k);
                    s2 = step512(s2, au, neg, m, w2 + k);
                    s3 = step512(s3, au, neg, m, w3 + k);
                } else {
                    s0 = _mm512_dpbusd_epi32(s0, av, _mm512_maskz_loadu_epi8(m, w0 + k));
                    s1 = _mm512_dpbusd_epi32(s1, av, _mm512_maskz_loadu_epi8(m, w1 + k));
                    s2 = _mm512_dpbusd_epi32(s2, av, _mm512_maskz_loadu_epi8(m, w2 + k));
                    s3 = _mm512_dpbusd_epi32(s3, av, _mm512_maskz_loadu_epi8(m, w3 + k));
                }
            }
            _mm_storeu_si128((__m128i *)(void *)(out + i * R + r), reduce4(s0, s1, s2, s3));
        }
        for (; r < R; r++) {
            const int8_t *w0 = q + r * K;
            __m512i s0 = _mm512_setzero_si512();
            for (size_t k = 0; k < K; k += 64) {
                __mmask64 m = K - k >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (K - k)) - 1;
                __m512i av = _mm512_maskz_loadu_epi8(m, ai + k);
                s0 = step512(s0, _mm512_abs_epi8(av), _mm512_movepi8_mask(av), m, w0 + k);
            }
            out[i * R + r] = _mm512_reduce_add_epi32(s0);
        }
    }
}
#endif

/* ---- dispatch ------------------------------------------------------------------------------ */

static const char *const kernel_names[Q8_NKERNELS] = {"reference", "avx2", "avx512vnni"};
static int forced = -1; /* q8_set_kernel's choice, else -1 */
static int best = -1;   /* the best available, set once before main (no race later) */

const char *q8_kernel_name(int k) { return k >= 0 && k < Q8_NKERNELS ? kernel_names[k] : "?"; }

int q8_kernel_available(int k)
{
    switch (k) {
    case Q8_REF:
        return 1;
#if Q8_X86
    case Q8_AVX2:
        return __builtin_cpu_supports("avx2");
    case Q8_VNNI:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vnni");
#endif
    default:
        return 0;
    }
}

static int find_best(void)
{
    for (int k = Q8_NKERNELS - 1; k > 0; k--)
        if (q8_kernel_available(k)) return k;
    return Q8_REF;
}

/* Runs when the program (or libmille.so) is loaded: later reads of `best` from several
 * threads then race with nothing. */
__attribute__((constructor)) static void q8_init(void)
{
#if Q8_X86
    __builtin_cpu_init(); /* constructors may run before libgcc's own */
#endif
    best = find_best();
}

int q8_kernel_active(void)
{
    if (forced >= 0) return forced;
    return best >= 0 ? best : find_best();
}

int q8_set_kernel(int k)
{
    if (k == -1) {
        forced = -1;
        return 0;
    }
    if (!q8_kernel_available(k)) return -1;
    forced = k;
    return 0;
}

void q8_quantize_rows(const float *x, size_t rows, size_t cols, size_t ldx, int8_t *q, float *scale)
{
#if Q8_X86
    if (q8_kernel_active() >= Q8_AVX2) {
        for (size_t r = 0; r < rows; r++)
            quant_row_avx2(x + r * ldx, cols, q + r * cols, scale + r);
        return;
    }
#endif
    for (size_t r = 0; r < rows; r++) quant_row_ref(x + r * ldx, cols, q + r * cols, scale + r);
}

void q8_axpy(float *x, float s, const int8_t *q, size_t n)
{
#if Q8_X86
    if (q8_kernel_active() >= Q8_AVX2) {
        axpy_avx2(x, s, q, n);
        return;
    }
#endif
    axpy_ref(x, s, q, n);
}

void q8_dots(int kernel, size_t N, const int8_t *a, const q8_mat *w, int32_t *out)
{
    MILLE_ASSERT(w->cols <= Q8_MAX_K && q8_kernel_available(kernel));
    dots_fn f = dots_ref;
#if Q8_X86
    if (kernel == Q8_AVX2) f = dots_avx2;
    if (kernel == Q8_VNNI) f = dots_vnni;
#endif
    f(N, a, w->q, w->rows, w->cols, out);
}

/* ---- products of float activations with int8 weights --------------------------------------- */

void q8_scratch_free(q8_scratch *s)
{
    free(s->a);
    free(s->as);
    free(s->acc);
    memset(s, 0, sizeof *s);
}

int q8_gemm(size_t N, const float *A, size_t lda, const q8_mat *w, float *Y, size_t ldy,
            q8_scratch *s)
{
    size_t K = w->cols, R = w->rows;
    if (N == 0 || R == 0) return 0;
    if ((K && N > SIZE_MAX / K) || N > SIZE_MAX / R ||
        vec_reserve((void **)&s->a, &s->cap_a, N * K, 1) ||
        vec_reserve((void **)&s->as, &s->cap_as, N, sizeof *s->as) ||
        vec_reserve((void **)&s->acc, &s->cap_acc, N * R, sizeof *s->acc))
        return MILLE_ENOMEM;
    q8_quantize_rows(A, N, K, lda, s->a, s->as);
    q8_dots(q8_kernel_active(), N, s->a, w, s->acc);
    /* dequantize: the same float products for every kernel (the AVX2 loop is the scalar
     * one eight at a time) */
    int simd = q8_kernel_active() >= Q8_AVX2;
    for (size_t i = 0; i < N; i++) {
        const int32_t *acc = s->acc + i * R;
        float ai = s->as[i], *y = Y + i * ldy;
#if Q8_X86
        if (simd) {
            dequant_avx2(y, acc, ai, w->scale, R);
            continue;
        }
#endif
        for (size_t r = 0; r < R; r++) y[r] = (float)acc[r] * (ai * w->scale[r]);
    }
    (void)simd;
    return 0;
}
