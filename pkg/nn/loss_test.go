package nn

import (
	"math"
	"testing"

	"gorgonia.org/tensor"
)

func TestLossHand(t *testing.T) {
	p, y := f32([]int{2, 2}, 0.5, 0.25, 1, 0), f32([]int{2, 2}, 1, 0, 1, 1)
	// MSE: (0.25 + 0.0625 + 0 + 1)/4 = 0.328125; grad 2(p-y)/4
	l, g, err := MSE(p, y)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(l-0.328125) > 1e-12 {
		t.Errorf("mse = %v, want 0.328125", l)
	}
	wantTensor(t, g, []int{2, 2}, []float32{-0.25, 0.125, 0, -0.5})
	// BCE: -(ln 0.5 + ln 0.75 + ln(1-1e-7) + ln 1e-7)/4
	l, g, err = BCE(p, y)
	if err != nil {
		t.Fatal(err)
	}
	want := -(math.Log(0.5) + math.Log(0.75) + math.Log(1-1e-7) + math.Log(1e-7)) / 4
	if math.Abs(l-want) > 1e-9 {
		t.Errorf("bce = %v, want %v", l, want)
	}
	// (p-y)/(p(1-p))/4: -0.5, 1/3; clamped elements get 0
	wantTensor(t, g, []int{2, 2}, []float32{-0.5, 1.0 / 3, 0, 0})
	e, err := SquaredError(p, y)
	if err != nil {
		t.Fatal(err)
	}
	wantTensor(t, e, []int{2, 2}, []float32{0.25, 0.0625, 0, 1})
}

func TestLossFiniteDifferences(t *testing.T) {
	for name, f := range map[string]func(p, y *tensor.Dense) (float64, *tensor.Dense, error){"mse": MSE, "bce": BCE} {
		p, y := randF32(1, 0.1, 0.9, 3, 4), randF32(2, 0, 1, 3, 4)
		_, g, err := f(p, y)
		if err != nil {
			t.Fatal(err)
		}
		x := p.Float32s()
		for i := range x {
			const h = 1e-3
			orig := x[i]
			x[i] = orig + h
			up, _, _ := f(p, y)
			x[i] = orig - h
			down, _, _ := f(p, y)
			x[i] = orig
			num := (up - down) / (2 * h)
			if math.Abs(num-float64(g.Float32s()[i])) > 1e-3*math.Max(1, math.Abs(num)) {
				t.Errorf("%s [%d]: gradient %v, finite difference %v", name, i, g.Float32s()[i], num)
			}
		}
	}
}

func TestLossErrors(t *testing.T) {
	a, b := randF32(1, 0, 1, 2), randF32(1, 0, 1, 3)
	if _, _, err := MSE(a, b); err == nil {
		t.Error("mse of different shapes: want error")
	}
	if _, _, err := BCE(i64([]int{2}, 1, 0), i64([]int{2}, 1, 0)); err == nil {
		t.Error("bce of int64: want error")
	}
	if _, err := SquaredError(a, b); err == nil {
		t.Error("squared error of different shapes: want error")
	}
}
