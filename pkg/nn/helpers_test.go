package nn

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gorgonia.org/tensor"
)

// randF32 makes a float32 tensor with values uniform in [lo, hi).
func randF32(seed uint64, lo, hi float64, shape ...int) *tensor.Dense {
	rng := rand.New(rand.NewPCG(seed, 7))
	d := make([]float32, Size(shape))
	for i := range d {
		d[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return NewF32(shape, d)
}

// noRand is a Pass for deterministic ops.
func noRand() *Pass { return &Pass{} }

// mustNew builds an op or fails the test.
func mustNew(t *testing.T, op string, opset int, a Attrs) Op {
	t.Helper()
	o, err := New(op, opset, a)
	if err != nil {
		t.Fatalf("New(%s, %d, %v): %v", op, opset, a, err)
	}
	return o
}

// run1 builds op and runs its forward pass, returning the outputs.
func run1(t *testing.T, op string, opset int, a Attrs, in ...*tensor.Dense) []*tensor.Dense {
	t.Helper()
	out, _, err := mustNew(t, op, opset, a).Forward(noRand(), in)
	if err != nil {
		t.Fatalf("%s forward: %v", op, err)
	}
	return out
}

// wantTensor compares shape and values (float32 within 1e-5 relative).
func wantTensor(t *testing.T, got *tensor.Dense, shape []int, want any) {
	t.Helper()
	if !slices.Equal(Shape(got), shape) {
		t.Fatalf("shape: got %v, want %v", Shape(got), shape)
	}
	switch w := want.(type) {
	case []float32:
		g := got.Float32s()
		if len(g) != len(w) {
			t.Fatalf("got %d values %v, want %v", len(g), g, w)
		}
		for i := range w {
			if math.Abs(float64(g[i]-w[i])) > 1e-5*math.Max(1, math.Abs(float64(w[i]))) {
				t.Fatalf("got %v, want %v", g, w)
			}
		}
	case []int64:
		if g := got.Int64s(); !slices.Equal(g, w) {
			t.Fatalf("got %v, want %v", g, w)
		}
	case []bool:
		if g := got.Bools(); !slices.Equal(g, w) {
			t.Fatalf("got %v, want %v", g, w)
		}
	case []int32:
		if g := got.Int32s(); !slices.Equal(g, w) {
			t.Fatalf("got %v, want %v", g, w)
		}
	case []float64:
		if g := got.Float64s(); !slices.Equal(g, w) {
			t.Fatalf("got %v, want %v", g, w)
		}
	default:
		t.Fatalf("wantTensor: unhandled %T", want)
	}
}

// wantUnsupported checks that err is an *UnsupportedError.
func wantUnsupported(t *testing.T, err error) {
	t.Helper()
	var u *UnsupportedError
	if !errors.As(err, &u) {
		t.Fatalf("got error %v, want *UnsupportedError", err)
	}
}

func f32(shape []int, v ...float32) *tensor.Dense { return NewF32(shape, v) }
func i64(shape []int, v ...int64) *tensor.Dense   { return NewI64(shape, v) }
