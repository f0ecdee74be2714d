package nn

import (
	"fmt"
	"math"
	"runtime"
	"testing"
)

// TestGemmKernel checks gemm (the micro-kernel where the CPU has AVX2 and
// FMA) and gonum, the fallback, against the three-loop formula on sizes with
// edge tiles, several depth and column blocks, both parallel splits, all
// transpositions and the beta cases the kernel treats apart.
func TestGemmKernel(t *testing.T) {
	t.Run("alpha 0", func(t *testing.T) {
		c := []float32{float32(math.NaN()), 2}
		gemm(false, false, 1, 2, 1, 0, []float32{1}, []float32{1, 1}, 0, c)
		if c[0] != 0 || c[1] != 0 {
			t.Fatalf("alpha 0, beta 0: got %v, want zeros", c)
		}
		c = []float32{1, 2}
		gemm(false, false, 1, 2, 1, 0, []float32{1}, []float32{1, 1}, 3, c)
		if c[0] != 3 || c[1] != 6 {
			t.Fatalf("alpha 0, beta 3: got %v, want [3 6]", c)
		}
	})
	if runtime.GOMAXPROCS(0) < 2 {
		t.Log("one CPU: the parallel split is not exercised")
	}
	sizes := [][3]int{{1, 1, 1}, {5, 17, 3}, {13, 37, 300}, {7, 16, 520}, {100, 1100, 40}, {700, 50, 70}}
	for _, s := range sizes {
		m, n, k := s[0], s[1], s[2]
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, beta := range []float32{0, 1, -0.5} {
				t.Run(fmt.Sprintf("%dx%dx%d/%v/beta%v", m, n, k, tr, beta), func(t *testing.T) {
					a, b := randF32(1, -1, 1, m*k).Float32s(), randF32(2, -1, 1, k*n).Float32s()
					c := randF32(3, -1, 1, m*n).Float32s()
					want := naiveGemm(a, b, m, n, k, tr[0], tr[1], 0.75)
					for i := range want {
						if beta != 0 {
							want[i] += beta * c[i]
						}
					}
					if beta == 0 {
						c[0] = float32(math.NaN()) // beta 0 must not read C
					}
					c2 := append([]float32(nil), c...)
					gemm(tr[0], tr[1], m, n, k, 0.75, a, b, beta, c)
					lda, ldb := k, n
					if tr[0] {
						lda = m
					}
					if tr[1] {
						ldb = k
					}
					gonumGemm(tr[0], tr[1], m, n, k, 0.75, a, lda, b, ldb, beta, c2, n)
					for i := range want {
						tol := 1e-4 * math.Max(1, math.Abs(float64(want[i])))
						if d := math.Abs(float64(c[i] - want[i])); d > tol {
							t.Fatalf("[%d]: got %v, want %v", i, c[i], want[i])
						}
						if d := math.Abs(float64(c2[i] - want[i])); d > tol {
							t.Fatalf("gonum [%d]: got %v, want %v", i, c2[i], want[i])
						}
					}
				})
			}
		}
	}
}
