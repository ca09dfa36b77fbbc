/*
 * kern.c - matrix products through OpenBLAS's cblas_sgemm, and the plain-C reference that
 * defines what they compute (accumulated in double, so the reference is also the more
 * accurate of the two).
 */
#include "kern.h"

#include <pthread.h>

#include <cblas.h>

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
