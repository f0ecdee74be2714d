package nn

import (
	"sync/atomic"
	"testing"
)

// TestParallel checks that every index is visited exactly once, for sizes
// below, at and far above the split threshold.
func TestParallel(t *testing.T) {
	for _, n := range []int{0, 1, parallelMin - 1, 2 * parallelMin, 5*parallelMin + 3} {
		seen := make([]atomic.Int32, n)
		parallel(n, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				seen[i].Add(1)
			}
		})
		for i := range seen {
			if c := seen[i].Load(); c != 1 {
				t.Fatalf("n=%d: index %d visited %d times", n, i, c)
			}
		}
	}
}

func TestActivationLarge(t *testing.T) {
	// big enough to be split: every element still computed
	x := randF32(1, -3, 3, 3*parallelMin+5)
	y := run1(t, "LeakyRelu", 14, Attrs{"alpha": float32(0.1)}, x)[0].Float32s()
	for i, v := range x.Float32s() {
		want := v
		if v < 0 {
			want = 0.1 * v
		}
		if d := y[i] - want; d > 1e-7 || d < -1e-7 {
			t.Fatalf("[%d]: LeakyRelu(%v) = %v, want %v", i, v, y[i], want)
		}
	}
}
