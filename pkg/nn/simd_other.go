//go:build !amd64

package nn

// Off amd64 there are no vector kernels: gonum multiplies and Go loops do
// the element-wise work.

func fastGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, _ *gemmScratch) bool {
	return false
}

func sigmoidVec(y, x []float32) int { return 0 }

func zeroPrefix(x []float32) int { return 0 }

func scatterExact(k int) bool { return false }

// fusedAxpy is never called where scatterExact is false.
func fusedAxpy(y, x []float32, a float32) { panic("nn: fusedAxpy without FMA") }
