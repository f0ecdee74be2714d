package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"portwatch/pkg/nn/nntest"
)

// checkGrad compares op's Backward with central finite differences of the
// scalar L = Σ_k Σ_i w_k[i]·out_k[i], with fixed random weights w, for every
// input index in wrt (float32 inputs only). The op's Forward must be
// deterministic (for Dropout pass a Pass whose Rand is reseeded: see
// the fresh argument).
func checkGrad(t *testing.T, op Differentiable, fresh func() *Pass, in []*tensor.Dense, wrt []int) {
	t.Helper()
	out, saved, err := op.Forward(fresh(), in)
	if err != nil {
		t.Fatalf("forward: %v", err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	weights := make([][]float32, len(out))
	gradOut := make([]*tensor.Dense, len(out))
	for k, o := range out {
		if o == nil || o.Dtype() != tensor.Float32 {
			continue
		}
		w := make([]float32, o.Shape().TotalSize())
		if o.IsScalar() {
			w = make([]float32, 1)
		}
		for i := range w {
			w[i] = float32(rng.Float64()*2 - 1)
		}
		weights[k] = w
		gradOut[k] = NewF32(Shape(o), w)
	}
	loss := func() float64 {
		o, _, err := op.Forward(fresh(), in)
		if err != nil {
			t.Fatalf("forward: %v", err)
		}
		var l float64
		for k, w := range weights {
			if w == nil {
				continue
			}
			for i, v := range o[k].Float32s() {
				l += float64(w[i]) * float64(v)
			}
		}
		return l
	}
	gradIn, err := op.Backward(in, out, gradOut, saved)
	if err != nil {
		t.Fatalf("backward: %v", err)
	}
	const eps = 1e-2
	for _, j := range wrt {
		if gradIn[j] == nil {
			t.Fatalf("input %d: backward returned no gradient", j)
		}
		x := in[j].Float32s()
		g := gradIn[j].Float32s()
		if len(g) != len(x) {
			t.Fatalf("input %d: gradient has %d values, input %d", j, len(g), len(x))
		}
		for i := range x {
			num := nntest.CentralDifference(x, i, eps, loss)
			if diff := math.Abs(num - float64(g[i])); diff > 2e-2*math.Max(1, math.Abs(num)) {
				t.Errorf("input %d [%d]: backward %.5f, finite difference %.5f", j, i, g[i], num)
			}
		}
	}
}
