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

/* The element-wise ends of the convolution layers, over n rows of h (b and the residual r
 * broadcast by row / same shape):
 *   kern_bias_relu:      y = relu(y + b)
 *   kern_bias_relu_res:  p = p + b; o = relu(p) + r
 * relu(v) = v > 0 ? v : 0 (NaN and -0 give +0). AVX2 versions when the CPU has it, with the
 * same float operations (an add, a max that is exactly that comparison, an add): the same
 * bits as the _ref loops, which the tests check. The scalar loops were a branch per
 * element that the predictor misses half the time: 13% of an int8 parse. */
void kern_bias_relu(float *y, const float *b, size_t n, size_t h);
void kern_bias_relu_res(float *p, float *o, const float *b, const float *r, size_t n, size_t h);
void kern_bias_relu_ref(float *y, const float *b, size_t n, size_t h);
void kern_bias_relu_res_ref(float *p, float *o, const float *b, const float *r, size_t n, size_t h);

/* Route kern_gemm to the reference (1) or to OpenBLAS (0, the default). For tests. */
void kern_set_reference(int on);

/* Make BLAS single-threaded: mille runs its own threads (deterministic data parallelism).
 * Also ends the threads OpenBLAS started before main (see kern.c), so that after this call
 * every thread of the process was created by mille under its own signal mask. Runs once per
 * process; later calls return at once. */
void kern_init(void);

#endif
