package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

func boolScalar(v bool) *tensor.Dense {
	return tensor.New(tensor.WithShape(), tensor.WithBacking([]bool{v}))
}

func TestDropoutInference(t *testing.T) {
	x := randF32(1, -1, 1, 3, 4)
	for _, tt := range []struct {
		opset int
		attrs Attrs
		pass  *Pass
		in    []*tensor.Dense
	}{
		{13, nil, &Pass{}, []*tensor.Dense{x, nil, nil}},
		{13, nil, &Pass{}, []*tensor.Dense{x, f32(nil, 0.3), boolScalar(false)}},
		{13, nil, &Pass{Train: true}, []*tensor.Dense{x, f32(nil, 0), nil}},
		{10, Attrs{"ratio": float32(0.2)}, &Pass{}, []*tensor.Dense{x}},
		{6, Attrs{"is_test": int64(1)}, &Pass{Train: true}, []*tensor.Dense{x}},
	} {
		out, _, err := mustNew(t, "Dropout", tt.opset, tt.attrs).Forward(tt.pass, tt.in)
		if err != nil {
			t.Fatal(err)
		}
		wantTensor(t, out[0], []int{3, 4}, x.Float32s())
		if tt.opset >= 10 {
			wantTensor(t, out[1], []int{3, 4}, make12(true))
		}
	}
	// before opset 10 the mask has the input's type
	out := run1(t, "Dropout", 7, nil, x)
	wantTensor(t, out[1], []int{3, 4}, []float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
}

func make12(v bool) []bool {
	b := make([]bool, 12)
	for i := range b {
		b[i] = v
	}
	return b
}

func TestDropoutTraining(t *testing.T) {
	const n = 20000
	x := make([]float32, n)
	for i := range x {
		x[i] = 2
	}
	in := []*tensor.Dense{NewF32([]int{n}, x), f32(nil, 0.25), nil}
	op := mustNew(t, "Dropout", 13, nil)
	out, _, err := op.Forward(&Pass{Train: true, Rand: rand.New(rand.NewPCG(3, 4))}, in)
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for i, v := range out[0].Float32s() {
		k := out[1].Bools()[i]
		switch {
		case k && v != 2/(1-0.25):
			t.Fatalf("kept element %d = %v, want 2/(1-0.25)", i, v)
		case !k && v != 0:
			t.Fatalf("dropped element %d = %v, want 0", i, v)
		}
		if k {
			kept++
		}
	}
	// binomial(n, 0.75): sd = sqrt(n·0.75·0.25) ≈ 61; allow 5 sd
	if math.Abs(float64(kept)-0.75*n) > 5*61 {
		t.Fatalf("kept %d of %d, want about %d", kept, n, 3*n/4)
	}
	// training_mode=true trains even when the pass does not; without a
	// Rand the seed attribute makes it repeatable
	seeded := mustNew(t, "Dropout", 13, Attrs{"seed": int64(9)})
	in[2] = boolScalar(true)
	a, _, err := seeded.Forward(&Pass{}, in)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := seeded.Forward(&Pass{}, in)
	if a[0].Float32s()[0] == 2 && a[0].Float32s()[1] == 2 && a[0].Float32s()[2] == 2 {
		t.Fatal("training_mode=true did not scale or drop")
	}
	for i := range a[1].Bools() {
		if a[1].Bools()[i] != b[1].Bools()[i] {
			t.Fatal("same seed gave different masks")
		}
	}
}

func TestDropoutErrors(t *testing.T) {
	x := randF32(1, -1, 1, 4)
	for _, in := range [][]*tensor.Dense{
		{x, f32(nil, 1)},
		{x, f32(nil, -0.1)},
		{x, f32([]int{2}, 0.1, 0.2)},
		{x, nil, f32(nil, 1)},
		{i64([]int{1}, 1)},
	} {
		if _, _, err := mustNew(t, "Dropout", 13, nil).Forward(&Pass{Train: true}, in); err == nil {
			t.Errorf("inputs %v: want error", in)
		}
	}
	for _, c := range []struct {
		opset int
		a     Attrs
	}{{13, Attrs{"ratio": float32(0.1)}}, {11, Attrs{"seed": int64(1)}}, {7, Attrs{"is_test": int64(1)}}} {
		_, err := New("Dropout", c.opset, c.a)
		wantUnsupported(t, err)
	}
}

func TestDropoutGrad(t *testing.T) {
	op := mustNew(t, "Dropout", 13, nil).(Differentiable)
	fresh := func() *Pass { return &Pass{Train: true, Rand: rand.New(rand.NewPCG(5, 6))} }
	checkGrad(t, op, fresh, []*tensor.Dense{randF32(1, -1, 1, 3, 5), f32(nil, 0.4), nil}, []int{0})
	checkGrad(t, op, noRand, []*tensor.Dense{randF32(1, -1, 1, 3, 5)}, []int{0})
}
