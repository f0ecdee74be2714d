package nn

//go:noescape
func sigmoid8(y, x []float32)

// sigmoidVec computes the sigmoid of x's leading multiple of 8 into y with
// AVX2 and returns how many it did: 0 on a CPU without AVX2 and FMA.
func sigmoidVec(y, x []float32) int {
	if !hasAVX2FMA() {
		return 0
	}
	n := len(x) &^ 7
	sigmoid8(y[:n], x[:n])
	return n
}
