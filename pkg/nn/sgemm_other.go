//go:build !amd64

package nn

// fastGemm has no kernel off amd64: gonum does the work.
func fastGemm(transA, transB bool, m, n, k int, alpha float32, a, b []float32, beta float32, c []float32) bool {
	return false
}
