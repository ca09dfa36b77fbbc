/*
 * kern.h - the numeric kernels models are made of. Each fast path (OpenBLAS) has a plain-C
 * reference beside it; tests compare the two. Row-major matrices throughout.
 */
#ifndef MILLE_KERN_H
#define MILLE_KERN_H

#include <stddef.h>

/* C (M,N) = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T (ta/tb nonzero = transpose).
 * A is (M,K) or (K,M) when transposed; B is (K,N) or (N,K). lda/ldb/ldc: row strides. */
void kern_gemm(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
               size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);
void kern_gemm_ref(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                   size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);

/* Route kern_gemm to the reference (1) or to OpenBLAS (0, the default). For tests. */
void kern_set_reference(int on);

/* Make BLAS single-threaded: mille runs its own threads (deterministic data parallelism).
 * Also ends the threads OpenBLAS started before main (see kern.c), so that after this call
 * every thread of the process was created by mille under its own signal mask. Runs once per
 * process; later calls return at once. */
void kern_init(void);

#endif
