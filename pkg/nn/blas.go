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
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	gemmStrided(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, n, nil)
}

// gemmScratch holds one goroutine's packing buffers for the fast kernel, so
// a caller running many small products in a row (the output layer's
// panels, hundreds per run) packs into the same memory each time instead of
// leaving tens of megabytes of garbage; nil allocates per product.
type gemmScratch struct{ a, b []float32 }

// bufs returns packing buffers of na and nb values, contents undefined.
func (s *gemmScratch) bufs(na, nb int) (pa, pb []float32) {
	if s == nil {
		return make([]float32, na), make([]float32, nb)
	}
	if cap(s.a) < na {
		s.a = make([]float32, na)
	}
	if cap(s.b) < nb {
		s.b = make([]float32, nb)
	}
	return s.a[:na], s.b[:nb]
}

// gemmStrided is gemm on submatrices: lda, ldb and ldc are the row strides
// of A, B and C as stored (A is k×m when transposed, B n×k). scratch may be
// nil (see gemmScratch).
func gemmStrided(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, scratch *gemmScratch) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := range m {
			row := c[i*ldc:][:n]
			for j := range row {
				row[j] *= beta
			}
		}
		return
	}
	if fastGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, scratch) {
		return
	}
	gonumGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gonumGemm is the portable product, for CPUs without AVX2 and FMA.
func gonumGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	blas32.Implementation().Sgemm(ta, tb, m, n, k, alpha, a, max(lda, 1), b, max(ldb, 1), beta, c, max(ldc, 1))
}
