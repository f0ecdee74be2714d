package nn

import (
	"fmt"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gorgonia.org/tensor"
)

// naiveGemm is the ONNX reference formula written as three loops.
func naiveGemm(a, b []float32, m, n, k int, ta, tb bool, alpha float32) []float32 {
	y := make([]float32, m*n)
	for i := range m {
		for j := range n {
			var s float32
			for p := range k {
				av := a[i*k+p]
				if ta {
					av = a[p*m+i]
				}
				bv := b[p*n+j]
				if tb {
					bv = b[j*k+p]
				}
				s += av * bv
			}
			y[i*n+j] = alpha * s
		}
	}
	return y
}

func TestGemmHand(t *testing.T) {
	a := f32([]int{2, 2}, 1, 2, 3, 4)
	b := f32([]int{2, 2}, 5, 6, 7, 8)
	// [1 2;3 4]·[5 6;7 8] = [19 22;43 50]; ·2 + 10·[1 -1] row-broadcast
	out := run1(t, "Gemm", 13, Attrs{"alpha": float32(2), "beta": float32(10)}, a, b, f32([]int{2}, 1, -1))
	wantTensor(t, out[0], []int{2, 2}, []float32{48, 34, 96, 90})
	// transA: [1 3;2 4]·[5 6;7 8] = [26 30;38 44], no C
	out = run1(t, "Gemm", 13, Attrs{"transA": int64(1)}, a, b)
	wantTensor(t, out[0], []int{2, 2}, []float32{26, 30, 38, 44})
	// transB: [1 2;3 4]·[5 7;6 8] = [17 23;39 53], scalar C
	out = run1(t, "Gemm", 11, Attrs{"transB": int64(1)}, a, b, f32(nil, 1))
	wantTensor(t, out[0], []int{2, 2}, []float32{18, 24, 40, 54})
	// column C [M,1], beta 0 ignores it
	out = run1(t, "Gemm", 13, Attrs{"beta": float32(0)}, a, b, f32([]int{2, 1}, 100, 200))
	wantTensor(t, out[0], []int{2, 2}, []float32{19, 22, 43, 50})
	out = run1(t, "Gemm", 13, nil, a, b, f32([]int{2, 1}, 100, 200))
	wantTensor(t, out[0], []int{2, 2}, []float32{119, 122, 243, 250})
}

func TestGemmNaive(t *testing.T) {
	const m, n, k = 5, 7, 3
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			sa, sb := []int{m, k}, []int{k, n}
			if ta {
				sa = []int{k, m}
			}
			if tb {
				sb = []int{n, k}
			}
			a, b := randF32(1, -1, 1, sa...), randF32(2, -1, 1, sb...)
			attrs := Attrs{"alpha": float32(0.5), "transA": b2i(ta), "transB": b2i(tb)}
			out := run1(t, "Gemm", 13, attrs, a, b)
			wantTensor(t, out[0], []int{m, n}, naiveGemm(a.Float32s(), b.Float32s(), m, n, k, ta, tb, 0.5))
		}
	}
}

// TestGemmWideBias: a bias row over an output wide enough to be computed in
// several column panels, as the model's last layer is.
func TestGemmWideBias(t *testing.T) {
	const m, n, k = 3, 50000, 5
	for _, tc := range []struct {
		ta, tb bool
		c      []int
	}{{false, true, []int{n}}, {true, false, []int{1, n}}, {false, false, []int{n}}} {
		t.Run(fmt.Sprintf("%v/%v/%v", tc.ta, tc.tb, tc.c), func(t *testing.T) {
			sa, sb := []int{m, k}, []int{k, n}
			if tc.ta {
				sa = []int{k, m}
			}
			if tc.tb {
				sb = []int{n, k}
			}
			a, b, c := randF32(1, -1, 1, sa...), randF32(2, -1, 1, sb...), randF32(3, -1, 1, tc.c...)
			want := naiveGemm(a.Float32s(), b.Float32s(), m, n, k, tc.ta, tc.tb, 0.5)
			for i := range want {
				want[i] += 2 * c.Float32s()[i%n]
			}
			attrs := Attrs{"alpha": float32(0.5), "beta": float32(2), "transA": b2i(tc.ta), "transB": b2i(tc.tb)}
			wantTensor(t, run1(t, "Gemm", 13, attrs, a, b, c)[0], []int{m, n}, want)
		})
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func TestGemmErrors(t *testing.T) {
	a, b := randF32(1, -1, 1, 2, 3), randF32(1, -1, 1, 3, 4)
	for _, c := range []struct {
		opset int
		attrs Attrs
		in    []*tensor.Dense
	}{
		{13, nil, []*tensor.Dense{a, a}},
		{13, nil, []*tensor.Dense{a, b, randF32(1, 0, 1, 3)}},
		{13, nil, []*tensor.Dense{a, b, randF32(1, 0, 1, 2, 4, 1)}},
		{13, nil, []*tensor.Dense{randF32(1, 0, 1, 6), b}},
		{13, nil, []*tensor.Dense{a, nil}},
		{6, nil, []*tensor.Dense{a, b, randF32(1, 0, 1, 4)}},
		{13, nil, []*tensor.Dense{i64([]int{1, 1}, 1), i64([]int{1, 1}, 1)}},
	} {
		if _, _, err := mustNew(t, "Gemm", c.opset, c.attrs).Forward(noRand(), c.in); err == nil {
			t.Errorf("opset %d inputs %v: want error", c.opset, c.in)
		}
	}
	// opset 6 with broadcast=1 accepts a row C
	run1(t, "Gemm", 6, Attrs{"broadcast": int64(1)}, a, b, randF32(1, 0, 1, 4))
	_, err := New("Gemm", 13, Attrs{"broadcast": int64(1)})
	wantUnsupported(t, err)
}

func TestGemmGrad(t *testing.T) {
	for _, c := range [][]int{nil, {}, {4}, {3, 1}, {3, 4}, {1, 4}} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			t.Run(fmt.Sprintf("C%v/trans%v", c, tr), func(t *testing.T) {
				sa, sb := []int{3, 2}, []int{2, 4}
				if tr[0] {
					sa = []int{2, 3}
				}
				if tr[1] {
					sb = []int{4, 2}
				}
				in := []*tensor.Dense{randF32(1, -1, 1, sa...), randF32(2, -1, 1, sb...)}
				wrt := []int{0, 1}
				if c != nil {
					in = append(in, randF32(3, -1, 1, c...))
					wrt = append(wrt, 2)
				}
				attrs := Attrs{"alpha": float32(0.7), "beta": float32(1.3), "transA": b2i(tr[0]), "transB": b2i(tr[1])}
				checkGrad(t, mustNew(t, "Gemm", 13, attrs).(Differentiable), noRand, in, wrt)
			})
		}
	}
}

// BenchmarkGemm runs portae's two big products through gemm and, for
// comparison in the same run, through gonum's Sgemm; GFLOP/s = 2·M·N·K/time.
func BenchmarkGemm(b *testing.B) {
	impls := map[string]func(m, n, k int, a, bb, c []float32){
		"kernel": func(m, n, k int, a, bb, c []float32) { gemm(false, false, m, n, k, 1, a, bb, 0, c) },
		"gonum": func(m, n, k int, a, bb, c []float32) {
			blas32.Implementation().Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, bb, n, 0, c, n)
		},
	}
	for _, s := range [][3]int{{60, 196608, 32}, {600, 256, 8192}} {
		m, n, k := s[0], s[1], s[2]
		a, bb, c := randF32(1, -1, 1, m, k).Float32s(), randF32(2, -1, 1, k, n).Float32s(), make([]float32, m*n)
		for _, name := range []string{"kernel", "gonum"} {
			b.Run(fmt.Sprintf("%s/%dx%dx%d", name, m, k, n), func(b *testing.B) {
				for b.Loop() {
					impls[name](m, n, k, a, bb, c)
				}
				b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
