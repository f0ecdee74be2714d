package nn

import (
	"math"
	"testing"

	"gorgonia.org/tensor"
)

func TestActivationForward(t *testing.T) {
	x := f32([]int{2, 3}, -2, -0.5, 0, 0.5, 2, 100)
	// Sigmoid and Tanh values from their definitions, computed in float64.
	sig := func(v float64) float32 { return float32(1 / (1 + math.Exp(-v))) }
	th := func(v float64) float32 { return float32((math.Exp(2*v) - 1) / (math.Exp(2*v) + 1)) }
	tests := []struct {
		op    string
		attrs Attrs
		want  []float32
	}{
		{"Relu", nil, []float32{0, 0, 0, 0.5, 2, 100}},
		{"LeakyRelu", nil, []float32{-0.02, -0.005, 0, 0.5, 2, 100}},
		{"LeakyRelu", Attrs{"alpha": float32(0.5)}, []float32{-1, -0.25, 0, 0.5, 2, 100}},
		{"Sigmoid", nil, []float32{sig(-2), sig(-0.5), 0.5, sig(0.5), sig(2), 1}},
		{"Tanh", nil, []float32{th(-2), th(-0.5), 0, th(0.5), th(2), 1}},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			wantTensor(t, run1(t, tt.op, 14, tt.attrs, x)[0], []int{2, 3}, tt.want)
		})
	}
}

func TestSigmoidExtremes(t *testing.T) {
	out := run1(t, "Sigmoid", 13, nil, f32([]int{3}, -1000, -100, 1000))[0].Float32s()
	// exp(-100)/(1+exp(-100)) ≈ 3.72e-44 is a float32 denormal, not 0.
	if out[0] != 0 || out[1] <= 0 || out[1] > 1e-43 || out[2] != 1 {
		t.Fatalf("sigmoid(-1000, -100, 1000) = %v, want 0, ~3.7e-44, 1", out)
	}
	for _, v := range out {
		if math.IsNaN(float64(v)) {
			t.Fatalf("NaN in %v", out)
		}
	}
}

func TestActivationErrors(t *testing.T) {
	_, err := New("Relu", 14, Attrs{"alpha": float32(1)})
	wantUnsupported(t, err)
	_, err = New("Relu", 1, Attrs{"consumed_inputs": []int64{0}})
	wantUnsupported(t, err)
	_, err = New("LeakyRelu", 14, Attrs{"alpha": int64(1)})
	if err == nil {
		t.Fatal("LeakyRelu with an int alpha: want error")
	}
	_, _, err = mustNew(t, "Tanh", 14, nil).Forward(noRand(), []*tensor.Dense{i64([]int{1}, 1)})
	wantUnsupported(t, err)
}

func TestActivationGrad(t *testing.T) {
	for _, tt := range []struct {
		op    string
		attrs Attrs
	}{{"Relu", nil}, {"LeakyRelu", Attrs{"alpha": float32(0.2)}}, {"Sigmoid", nil}, {"Tanh", nil}} {
		t.Run(tt.op, func(t *testing.T) {
			// Values at least 0.1 from the kink at 0, where finite differences step over it.
			x := f32([]int{2, 4}, -2, -0.7, -0.3, -0.1, 0.1, 0.4, 1.3, 3)
			checkGrad(t, mustNew(t, tt.op, 14, tt.attrs).(Differentiable), noRand, []*tensor.Dense{x}, []int{0})
		})
	}
}

func TestExpNeg(t *testing.T) {
	for x := float32(-100); x <= 0; x += 0.0137 {
		// float32 is the reference's precision too: subnormals keep few bits
		got, want := float64(expNeg(x)), float64(float32(math.Exp(float64(x))))
		if d := math.Abs(got-want) / want; d > 3e-7 {
			t.Fatalf("expNeg(%v) = %v, want %v (relative error %.2g)", x, got, want, d)
		}
	}
	if expNeg(0) != 1 || expNeg(-200) != 0 {
		t.Fatalf("expNeg(0), expNeg(-200) = %v, %v; want 1, 0", expNeg(0), expNeg(-200))
	}
}

func BenchmarkExp(b *testing.B) {
	x := randF32(1, -8, 0, 4096).Float32s()
	var sink float32
	b.Run("expNeg", func(b *testing.B) {
		for b.Loop() {
			for _, v := range x {
				sink += expNeg(v)
			}
		}
	})
	b.Run("math.Exp", func(b *testing.B) {
		for b.Loop() {
			for _, v := range x {
				sink += float32(math.Exp(float64(v)))
			}
		}
	})
	_ = sink
}

func BenchmarkSigmoid(b *testing.B) {
	o, err := New("Sigmoid", 13, nil)
	if err != nil {
		b.Fatal(err)
	}
	in := []*tensor.Dense{randF32(1, -8, 8, 3, 65536)}
	b.SetBytes(3 * 65536 * 4)
	for b.Loop() {
		if _, _, err := o.Forward(noRand(), in); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSigmoidVector runs the vector path (whole groups of eight) against
// the float64 formula, edges included.
func TestSigmoidVector(t *testing.T) {
	x := []float32{0, float32(math.Copysign(0, -1)), 1e-8, -1e-8, 86.9, -86.9, 87.5, -87.5, 88.8, -88.8, 200, -200,
		float32(math.Inf(1)), float32(math.Inf(-1)), 16, -16}
	for v := float32(-30); v < 30; v += 0.0173 {
		x = append(x, v)
	}
	x = x[:len(x)&^7]
	y := run1(t, "Sigmoid", 13, nil, NewF32([]int{len(x)}, x))[0].Float32s()
	for i, v := range x {
		want := 1 / (1 + math.Exp(-float64(v)))
		// relative to the result, or 1e-38 absolute where the vector path
		// flushes outputs below e^-87 to zero
		if d := math.Abs(float64(y[i]) - want); d > 3e-7*want && d > 1e-38 {
			t.Errorf("sigmoid(%v) = %v, want %v", v, y[i], want)
		}
	}
	nan := run1(t, "Sigmoid", 13, nil, NewF32([]int{8}, []float32{1, 2, 3, float32(math.NaN()), 5, 6, 7, 8}))[0].Float32s()
	if !math.IsNaN(float64(nan[3])) {
		t.Errorf("sigmoid(NaN) = %v, want NaN", nan[3])
	}
}
