package nn

import (
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"gorgonia.org/tensor"
)

func TestConvConformance(t *testing.T) {
	for _, pattern := range []string{"test_conv_*", "test_basic_conv_*", "pytorch-converted/test_Conv1d*"} {
		dirs, _ := filepath.Glob(filepath.Join(conformanceDir, pattern))
		if len(dirs) == 0 {
			t.Skipf("no cases %s", pattern)
		}
		for _, dir := range dirs {
			t.Run(filepath.Base(dir), func(t *testing.T) { runCase(t, dir, 1e-3, 1e-7) })
		}
	}
}

// TestConvByHand: X = [1 2 3 4 5], padded by one zero at the start, W = [2 1],
// stride 2, bias 10: windows (0,1) (2,3) (4,5) give 1, 7, 13, plus 10.
func TestConvByHand(t *testing.T) {
	op, err := New("Conv", 13, Attrs{"pads": []int64{1, 0}, "strides": []int64{2}})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := op.Forward(&Pass{}, []*tensor.Dense{
		NewF32([]int{1, 1, 5}, []float32{1, 2, 3, 4, 5}),
		NewF32([]int{1, 1, 2}, []float32{2, 1}),
		NewF32([]int{1}, []float32{10}),
	})
	if err != nil {
		t.Fatal(err)
	}
	compareTensors(t, "Y", out[0], NewF32([]int{1, 1, 3}, []float32{11, 17, 23}), 0, 0)
}

// sparseInput is X [n, c, l] with ones at a few random positions per row.
func sparseInput(rng *rand.Rand, n, c, l, ones int) *tensor.Dense {
	x := make([]float32, n*c*l)
	for r := range n * c {
		for range ones {
			x[r*l+rng.IntN(l)] = 1
		}
	}
	return NewF32([]int{n, c, l}, x)
}

// TestConvSparseEqualsDense: skipping all-zero columns must not change a
// single bit, with groups, padding and overlapping windows.
func TestConvSparseEqualsDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name  string
		attrs Attrs
		x, w  []int
	}{
		{"portae", Attrs{"strides": []int64{16}}, []int{3, 3, 4096}, []int{8, 3, 16}},
		{"overlap-pad-group", Attrs{"strides": []int64{3}, "pads": []int64{2, 5}, "group": int64(3)}, []int{2, 6, 997}, []int{9, 2, 7}},
		{"2d-dilated", Attrs{"dilations": []int64{2, 1}, "auto_pad": "SAME_LOWER"}, []int{2, 2, 40, 50}, []int{4, 2, 3, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op, err := New("Conv", 22, tc.attrs)
			if err != nil {
				t.Fatal(err)
			}
			x := sparseInput(rng, tc.x[0], tc.x[1], Size(tc.x[2:]), 5)
			x.Reshape(tc.x...)
			in := []*tensor.Dense{x, randF32(rng.Uint64(), -1, 1, tc.w...), randF32(rng.Uint64(), -1, 1, tc.w[0])}
			dense, _, err := op.(*conv).forward(nil, in, skipNone)
			if err != nil {
				t.Fatal(err)
			}
			for _, skip := range []zeroSkip{skipColumns, skipScatter} {
				sparse, c, err := op.(*conv).forward(nil, in, skip)
				if err != nil {
					t.Fatal(err)
				}
				if c.inv == nil {
					t.Fatal("sparse path not taken")
				}
				if want := skip == skipScatter && scatterExact(c.k); (c.wt != nil) != want {
					t.Fatalf("skip %d: scatter weights %v, want scatter %v", skip, c.wt != nil, want)
				}
				for i := range dense {
					if math.Float32bits(sparse[i]) != math.Float32bits(dense[i]) {
						t.Fatalf("skip %d [%d]: sparse %g, dense %g", skip, i, sparse[i], dense[i])
					}
				}
			}
		})
	}
}

// TestNextNonzero: the vector scan and the Go one agree, signed zeros count
// as zero, and a value at every offset of a block is found.
func TestNextNonzero(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	for _, n := range []int{0, 1, 7, 31, 32, 33, 100, 1000} {
		for at := -1; at < n; at++ {
			x := make([]float32, n)
			for i := range x {
				if i%3 == 0 {
					x[i] = negZero
				}
			}
			want := n
			if at >= 0 {
				x[at], want = float32(math.NaN()), at
			}
			if got := nextNonzero(x); got != want {
				t.Fatalf("n %d, value at %d: nextNonzero %d, want %d", n, at, got, want)
			}
			if got := scanNonzero(x); got != want {
				t.Fatalf("n %d, value at %d: scanNonzero %d, want %d", n, at, got, want)
			}
		}
	}
}

// TestConvBatches: samples share a gemm in batches of gemmColumns columns;
// each sample's output must equal a run on that sample alone.
func TestConvBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	op, err := New("Conv", 22, Attrs{"strides": []int64{4}, "pads": []int64{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	x := sparseInput(rng, 6, 2, 65536, 30)
	xd := x.Float32s()
	copy(xd[3*2*65536:], randF32(rng.Uint64(), -1, 1, 2*65536).Float32s()) // one dense sample
	w, b := randF32(rng.Uint64(), -1, 1, 3, 2, 5), randF32(rng.Uint64(), -1, 1, 3)
	out, _, err := op.Forward(&Pass{}, []*tensor.Dense{x, w, b})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := op.(*conv).setup([]*tensor.Dense{x, w, b}, skipScatter); c.batch >= 6 {
		t.Fatalf("batch of %d samples: the test needs several batches", c.batch)
	}
	y := out[0].Float32s()
	per := len(y) / 6
	for n := range 6 {
		one, _, err := op.Forward(&Pass{}, []*tensor.Dense{NewF32([]int{1, 2, 65536}, xd[n*2*65536:][:2*65536]), w, b})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range one[0].Float32s() {
			if math.Float32bits(v) != math.Float32bits(y[n*per+i]) {
				t.Fatalf("sample %d [%d]: batched %g, alone %g", n, i, y[n*per+i], v)
			}
		}
	}
}

func TestConvGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		name   string
		attrs  Attrs
		x, w   []int
		sparse bool
		bias   bool
	}{
		{"1d-stride-pad", Attrs{"strides": []int64{2}, "pads": []int64{1, 2}}, []int{2, 2, 9}, []int{3, 2, 3}, false, true},
		{"1d-sparse", Attrs{"strides": []int64{4}}, []int{2, 3, 64}, []int{2, 3, 4}, true, true},
		{"2d-group-dilation", Attrs{"group": int64(2), "dilations": []int64{1, 2}, "auto_pad": "SAME_UPPER"}, []int{1, 4, 5, 6}, []int{2, 2, 2, 2}, false, false},
		{"3d", Attrs{"strides": []int64{1, 2, 1}}, []int{1, 1, 3, 4, 3}, []int{2, 1, 2, 2, 2}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op, err := New("Conv", 22, tc.attrs)
			if err != nil {
				t.Fatal(err)
			}
			x := randF32(rng.Uint64(), -1, 1, tc.x...)
			if tc.sparse {
				x = sparseInput(rng, tc.x[0], tc.x[1], tc.x[2], 2)
			}
			in := []*tensor.Dense{x, randF32(rng.Uint64(), -1, 1, tc.w...)}
			wrt := []int{0, 1}
			if tc.bias {
				in = append(in, randF32(rng.Uint64(), -1, 1, tc.w[0]))
				wrt = append(wrt, 2)
			}
			checkGrad(t, op.(Differentiable), func() *Pass { return &Pass{Train: true} }, in, wrt)
			checkSkipsX(t, op.(PartialDifferentiable), in)
		})
	}
}

// checkSkipsX checks that leaving out dX gives no dX and bit-identical
// gradients for the weights and bias.
func checkSkipsX(t *testing.T, op PartialDifferentiable, in []*tensor.Dense) {
	t.Helper()
	out, saved, err := op.Forward(&Pass{Train: true}, in)
	if err != nil {
		t.Fatal(err)
	}
	gy := []*tensor.Dense{randF32(9, -1, 1, Shape(out[0])...)}
	all, err := op.Backward(in, out, gy, saved)
	if err != nil {
		t.Fatal(err)
	}
	need := make([]bool, len(in))
	for i := 1; i < len(in); i++ {
		need[i] = true
	}
	some, err := op.BackwardFor(need, in, out, gy, saved)
	if err != nil {
		t.Fatal(err)
	}
	if some[0] != nil {
		t.Errorf("BackwardFor without X: got a dX of shape %v, want none", Shape(some[0]))
	}
	for i := 1; i < len(in); i++ {
		got, want := some[i].Float32s(), all[i].Float32s()
		if !slices.Equal(got, want) {
			t.Errorf("input %d gradient differs when dX is skipped: got %v, want %v", i, got, want)
		}
	}
}

func TestConvErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		name  string
		attrs Attrs
		in    []*tensor.Dense
	}{
		{"group", Attrs{"group": int64(2)}, []*tensor.Dense{randF32(rng.Uint64(), -1, 1, 1, 3, 8), randF32(rng.Uint64(), -1, 1, 2, 3, 2)}},
		{"kernel too big", nil, []*tensor.Dense{randF32(rng.Uint64(), -1, 1, 1, 1, 3), randF32(rng.Uint64(), -1, 1, 1, 1, 4)}},
		{"rank", nil, []*tensor.Dense{randF32(rng.Uint64(), -1, 1, 1, 8), randF32(rng.Uint64(), -1, 1, 1, 1)}},
		{"bias", nil, []*tensor.Dense{randF32(rng.Uint64(), -1, 1, 1, 1, 8), randF32(rng.Uint64(), -1, 1, 2, 1, 2), randF32(rng.Uint64(), -1, 1, 3)}},
		{"strides", Attrs{"strides": []int64{0}}, []*tensor.Dense{randF32(rng.Uint64(), -1, 1, 1, 1, 8), randF32(rng.Uint64(), -1, 1, 1, 1, 2)}},
		{"pads length", Attrs{"pads": []int64{1}}, []*tensor.Dense{randF32(rng.Uint64(), -1, 1, 1, 1, 8), randF32(rng.Uint64(), -1, 1, 1, 1, 2)}},
		{"kernel_shape", Attrs{"kernel_shape": []int64{3}}, []*tensor.Dense{randF32(rng.Uint64(), -1, 1, 1, 1, 8), randF32(rng.Uint64(), -1, 1, 1, 1, 2)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op, err := New("Conv", 22, tc.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := op.Forward(&Pass{}, tc.in); err == nil {
				t.Fatal("no error")
			}
		})
	}
	var ue *UnsupportedError
	if _, err := New("Conv", 22, Attrs{"auto_pad": "FULL"}); !errors.As(err, &ue) {
		t.Errorf("auto_pad FULL: got %v, want *UnsupportedError", err)
	}
	op, _ := New("Conv", 22, nil)
	x := tensor.New(tensor.WithShape(1, 1, 4), tensor.Of(tensor.Float64))
	if _, _, err := op.Forward(&Pass{}, []*tensor.Dense{x, randF32(rng.Uint64(), -1, 1, 1, 1, 2)}); !errors.As(err, &ue) {
		t.Errorf("float64 X: got %v, want *UnsupportedError", err)
	}
}

// benchConv runs Conv at the portae size: X [600, 3, 65536], W [8, 3, 16],
// stride 16, sparse (a few dozen ones per row) or dense; with backward set,
// the backward pass for an all-ones gradient of Y.
func benchConv(b *testing.B, sparse, backward bool) {
	rng := rand.New(rand.NewPCG(9, 10))
	x := sparseInput(rng, 600, 3, 65536, 40)
	if !sparse {
		x = randF32(rng.Uint64(), -1, 1, 600, 3, 65536)
	}
	op, err := New("Conv", 22, Attrs{"strides": []int64{16}})
	if err != nil {
		b.Fatal(err)
	}
	in := []*tensor.Dense{x, randF32(rng.Uint64(), -1, 1, 8, 3, 16), randF32(rng.Uint64(), -1, 1, 8)}
	gy := []*tensor.Dense{randF32(11, -1, 1, 600, 8, 4096)}
	for b.Loop() {
		var err error
		if backward {
			_, err = op.(Differentiable).Backward(in, nil, gy, nil)
		} else {
			_, _, err = op.Forward(&Pass{}, in)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConvSparse(b *testing.B)         { benchConv(b, true, false) }
func BenchmarkConvDense(b *testing.B)          { benchConv(b, false, false) }
func BenchmarkConvSparseBackward(b *testing.B) { benchConv(b, true, true) }
