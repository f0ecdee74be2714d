package nn

//go:noescape
func zeroBlocks(x *float32, blocks int) int

//go:noescape
func fmaAxpy(y, x []float32, a float32)

// zeroPrefix is how many leading values of x are ±0, in whole 32-value
// blocks, found with AVX2: 0 on a CPU without it.
func zeroPrefix(x []float32) int {
	if !hasAVX2FMA() || len(x) < 32 {
		return 0
	}
	return 32 * zeroBlocks(&x[0], len(x)/32)
}

// scatterExact says whether sums of depth k built with fusedAxpy equal the
// gemm's bit for bit: both use FMA, and the kernel sums in one depth block.
func scatterExact(k int) bool { return hasAVX2FMA() && k <= kc }

// fusedAxpy sets y[i] = fma(x[i], a, y[i]), rounding once as the gemm
// micro-kernel does, so a sum built with it equals the kernel's bit for bit.
func fusedAxpy(y, x []float32, a float32) { fmaAxpy(y, x[:len(y)], a) }
