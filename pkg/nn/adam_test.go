package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestAdamHandStep(t *testing.T) {
	// p=1, g=0.5, lr=0.1: m=0.05, v=0.00025, m̂=0.5, v̂=0.25,
	// p = 1 - 0.1·0.5/(0.5+1e-8) = 0.9 (to 1e-8).
	// p=2, g=-1, decay 0.1: g'=-0.8, m̂=-0.8, v̂=0.64, p = 2 + 0.1 = 2.1.
	// Second step for p=0.9, g=0.5: m=0.095, v=0.00049975,
	// m̂=0.095/0.19=0.5, v̂=0.00049975/0.001999=0.25, p = 0.8.
	a := NewAdam(0.1)
	p := [][]float32{{1}}
	if err := a.Step(p, [][]float32{{0.5}}); err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(p[0][0])-0.9) > 1e-6 {
		t.Fatalf("after one step p = %v, want 0.9", p[0][0])
	}
	if err := a.Step(p, [][]float32{{0.5}}); err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(p[0][0])-0.8) > 1e-6 {
		t.Fatalf("after two steps p = %v, want 0.8", p[0][0])
	}
	d := NewAdam(0.1)
	d.WeightDecay = 0.1
	q := [][]float32{{2}}
	if err := d.Step(q, [][]float32{{-1}}); err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(q[0][0])-2.1) > 1e-6 {
		t.Fatalf("with decay p = %v, want 2.1", q[0][0])
	}
}

func TestAdamLeastSquares(t *testing.T) {
	// y = X·w* with w* = (1, -2, 0.5); minimise mean (X·w - y)² from w = 0.
	want := []float64{1, -2, 0.5}
	rng := rand.New(rand.NewPCG(1, 1))
	const n = 50
	x := make([][3]float64, n)
	y := make([]float64, n)
	for i := range x {
		for j := range 3 {
			x[i][j] = rng.Float64()*2 - 1
			y[i] += x[i][j] * want[j]
		}
	}
	w := make([]float32, 3)
	a := NewAdam(0.05)
	for range 3000 {
		g := make([]float32, 3)
		for i := range x {
			r := -y[i]
			for j := range 3 {
				r += x[i][j] * float64(w[j])
			}
			for j := range 3 {
				g[j] += float32(2 * r * x[i][j] / n)
			}
		}
		if err := a.Step([][]float32{w}, [][]float32{g}); err != nil {
			t.Fatal(err)
		}
	}
	for j := range want {
		if math.Abs(float64(w[j])-want[j]) > 1e-3 {
			t.Fatalf("w = %v, want %v", w, want)
		}
	}
}

func TestAdamErrors(t *testing.T) {
	a := NewAdam(0.1)
	if err := a.Step([][]float32{{1}}, nil); err == nil {
		t.Error("missing gradient: want error")
	}
	if err := a.Step([][]float32{{1, 2}}, [][]float32{{1}}); err == nil {
		t.Error("short gradient: want error")
	}
	if err := a.Step([][]float32{{1}}, [][]float32{{1}}); err != nil {
		t.Fatal(err)
	}
	if err := a.Step([][]float32{{1}, {2}}, [][]float32{{1}, {1}}); err == nil {
		t.Error("a parameter more than the state holds: want error")
	}
}
