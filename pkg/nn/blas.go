package nn

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// gemm computes C = alpha*op(A)*op(B) + beta*C on row-major slices, where
// op(A) is m×k and op(B) is k×n. Every matrix product in the engine (Gemm,
// MatMul, Conv via im2col, LSTM gates) goes through here, so a faster BLAS
// only has to be plugged in once.
func gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, b []float32, beta float32, c []float32) {
	if m == 0 || n == 0 {
		return
	}
	ta, lda := blas.NoTrans, k
	if transA {
		ta, lda = blas.Trans, m
	}
	tb, ldb := blas.NoTrans, n
	if transB {
		tb, ldb = blas.Trans, k
	}
	if k == 0 {
		for i := range c[:m*n] {
			c[i] *= beta
		}
		return
	}
	if fastGemm(transA, transB, m, n, k, alpha, a, b, beta, c) {
		return
	}
	blas32.Implementation().Sgemm(ta, tb, m, n, k, alpha, a, max(lda, 1), b, max(ldb, 1), beta, c, max(n, 1))
}
