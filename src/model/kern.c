/*
 * kern.c - matrix products through OpenBLAS's cblas_sgemm, and the plain-C reference that
 * defines what they compute (accumulated in double, so the reference is also the more
 * accurate of the two); the bias + ReLU (+ residual) ends of the convolution layers, with
 * AVX2 versions chosen at run time (function-level target attributes: no -mavx flags).
 */
#include "kern.h"

#include <pthread.h>

#include <cblas.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define KERN_X86 1
#else
#define KERN_X86 0
#endif

void kern_bias_relu_ref(float *y, const float *b, size_t n, size_t h)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < h; k++) {
            float v = y[i * h + k] + b[k];
            y[i * h + k] = v > 0 ? v : 0;
        }
}

void kern_bias_relu_res_ref(float *p, float *o, const float *b, const float *r, size_t n, size_t h)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < h; k++) {
            float v = p[i * h + k] + b[k];
            p[i * h + k] = v;
            o[i * h + k] = (v > 0 ? v : 0) + r[i * h + k];
        }
}

#if KERN_X86
/* MAXPS(v, 0) returns v if v > 0, else its second operand 0: exactly v > 0 ? v : 0, NaN and
 * -0 included. */
__attribute__((target("avx2"))) static void bias_relu_avx2(float *y, const float *b, size_t n,
                                                           size_t h)
{
    const __m256 z = _mm256_setzero_ps();
    size_t h8 = h & ~(size_t)7;
    for (size_t i = 0; i < n; i++) {
        float *yi = y + i * h;
        for (size_t k = 0; k < h8; k += 8) {
            __m256 v = _mm256_add_ps(_mm256_loadu_ps(yi + k), _mm256_loadu_ps(b + k));
            _mm256_storeu_ps(yi + k, _mm256_max_ps(v, z));
        }
        for (size_t k = h8; k < h; k++) {
            float v = yi[k] + b[k];
            yi[k] = v > 0 ? v : 0;
        }
    }
}

__attribute__((target("avx2"))) static void bias_relu_res_avx2(float *p, float *o, const float *b,
                                                               const float *r, size_t n, size_t h)
{
    const __m256 z = _mm256_setzero_ps();
    size_t h8 = h & ~(size_t)7;
    for (size_t i = 0; i < n; i++) {
        float *pi = p + i * h, *oi = o + i * h;
        const float *ri = r + i * h;
        for (size_t k = 0; k < h8; k += 8) {
            __m256 v = _mm256_add_ps(_mm256_loadu_ps(pi + k), _mm256_loadu_ps(b + k));
            _mm256_storeu_ps(pi + k, v);
            _mm256_storeu_ps(oi + k, _mm256_add_ps(_mm256_max_ps(v, z), _mm256_loadu_ps(ri + k)));
        }
        for (size_t k = h8; k < h; k++) {
            float v = pi[k] + b[k];
            pi[k] = v;
            oi[k] = (v > 0 ? v : 0) + ri[k];
        }
    }
}
#endif

void kern_bias_relu(float *y, const float *b, size_t n, size_t h)
{
#if KERN_X86
    if (__builtin_cpu_supports("avx2")) {
        bias_relu_avx2(y, b, n, h);
        return;
    }
#endif
    kern_bias_relu_ref(y, b, n, h);
}

void kern_bias_relu_res(float *p, float *o, const float *b, const float *r, size_t n, size_t h)
{
#if KERN_X86
    if (__builtin_cpu_supports("avx2")) {
        bias_relu_res_avx2(p, o, b, r, n, h);
        return;
    }
#endif
    kern_bias_relu_res_ref(p, o, b, r, n, h);
}

/* Exported by OpenBLAS (pthread and OpenMP builds) for its fork handler, not declared in
 * cblas.h: joins the threads of its pool. */
int blas_thread_shutdown_(void);

static int use_ref;

void kern_set_reference(int on) { use_ref = on; }

/* Once per process (it used to run on every model load, so on every reload of `mille serve`).
 * OpenBLAS starts its thread pool in a library constructor, before main, so those threads
 * inherit main's signal mask as it was then: none blocked. A server that blocks its signals
 * and waits for them in one place would still have them delivered to (and the process killed
 * through) those threads. With one BLAS thread the pool is never used, so it is shut down
 * here; OpenBLAS would re-create it only for a call with more than one thread, or on the next
 * openblas_set_num_threads, which is why that is called before and never again. */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_blas(void)
{
    openblas_set_num_threads(1);
    blas_thread_shutdown_();
}

void kern_init(void) { pthread_once(&init_once, init_blas); }

void kern_gemm(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
               size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    if (use_ref) {
        kern_gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (M == 0 || N == 0) return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta,
                C, (blasint)ldc);
}

void kern_gemm_ref(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                   size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double s = 0;
            for (size_t k = 0; k < K; k++) {
                float a = ta ? A[k * lda + i] : A[i * lda + k];
                float b = tb ? B[j * ldb + k] : B[k * ldb + j];
                s += (double)a * b;
            }
            float *c = &C[i * ldc + j];
            *c = (float)(alpha * s + (beta == 0 ? 0.0 : (double)beta * *c));
        }
}
