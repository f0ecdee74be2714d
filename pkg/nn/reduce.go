package nn

import (
	"fmt"
	"math"
	"slices"

	"gorgonia.org/tensor"
)

// reduce is ReduceSum, ReduceMean or ReduceMax over float32 tensors. The
// axes come from the attribute before the opset that moved them to the
// second input (13 for ReduceSum, 18 for the others).
type reduce struct {
	op        string
	axesInput bool
	axes      []int64
	keepDims  bool
	noopEmpty bool // noop_with_empty_axes: no axes means identity, not all
}

var _ Differentiable = (*reduce)(nil)

func newReduce(op string, opset int, a Attrs) (Op, error) {
	r := &reduce{op: op, axesInput: opset >= 18 || op == "ReduceSum" && opset >= 13}
	known := []string{"keepdims"}
	if r.axesInput {
		known = append(known, "noop_with_empty_axes")
	} else {
		known = append(known, "axes")
	}
	if err := a.Check(op, known...); err != nil {
		return nil, err
	}
	keep, err := a.Int("keepdims", 1)
	if err == nil {
		r.axes, err = a.Ints("axes", nil)
	}
	var noop int64
	if err == nil {
		noop, err = a.Int("noop_with_empty_axes", 0)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	r.keepDims, r.noopEmpty = keep != 0, noop != 0
	return r, nil
}

// shapes returns X's shape and the reduced shape with kept unit axes (what
// the result broadcasts back from), and the output shape.
func (r *reduce) shapes(in []*tensor.Dense) (xs, kept, out []int, err error) {
	if len(in) < 1 || in[0] == nil {
		return nil, nil, nil, fmt.Errorf("%s: want input data", r.op)
	}
	if in[0].Dtype() != tensor.Float32 {
		return nil, nil, nil, &UnsupportedError{Op: r.op, Reason: fmt.Sprintf("data of type %v (float32 only)", in[0].Dtype())}
	}
	axes := r.axes
	if r.axesInput && len(in) > 1 && in[1] != nil {
		if axes, err = I64(in[1]); err != nil {
			return nil, nil, nil, fmt.Errorf("%s: axes: %w", r.op, err)
		}
	}
	xs = Shape(in[0])
	all := len(axes) == 0 && !r.noopEmpty
	reduced := make([]bool, len(xs))
	for _, a := range axes {
		ax, err := normAxis(a, len(xs))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", r.op, err)
		}
		reduced[ax] = true
	}
	for i, d := range xs {
		if all || reduced[i] {
			kept = append(kept, 1)
			if r.keepDims {
				out = append(out, 1)
			}
			continue
		}
		kept = append(kept, d)
		out = append(out, d)
	}
	if out == nil {
		out = []int{}
	}
	return xs, kept, out, nil
}

func (r *reduce) Forward(_ *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	xs, kept, out, err := r.shapes(in)
	if err != nil {
		return nil, nil, err
	}
	x := in[0].Float32s()
	var y []float32
	switch r.op {
	case "ReduceSum", "ReduceMean":
		y = reduceTo(x, xs, kept).Float32s()
		if r.op == "ReduceMean" && len(y) > 0 {
			scale := float32(len(y)) / float32(len(x))
			for i := range y {
				y[i] *= scale
			}
		}
	case "ReduceMax":
		y = make([]float32, Size(kept))
		for i := range y {
			y[i] = float32(math.Inf(-1))
		}
		newWalker(xs, strides(xs), bstrides(kept, xs)).each([]int{0, 0}, func(off []int) {
			y[off[1]] = max(y[off[1]], x[off[0]])
		})
	}
	return []*tensor.Dense{NewF32(out, y)}, nil, nil
}

// Backward spreads each output gradient over the elements it reduced:
// equally for ReduceSum, divided by their count for ReduceMean, and to the
// first maximal element for ReduceMax.
func (r *reduce) Backward(in, out, gradOut []*tensor.Dense, _ any) ([]*tensor.Dense, error) {
	grads := make([]*tensor.Dense, len(in))
	if gradOut[0] == nil {
		return grads, nil
	}
	xs, kept, _, err := r.shapes(in)
	if err != nil {
		return nil, err
	}
	g, x, y := gradOut[0].Float32s(), in[0].Float32s(), out[0].Float32s()
	gx := make([]float32, len(x))
	scale := float32(1)
	if r.op == "ReduceMean" && len(x) > 0 {
		scale = float32(len(g)) / float32(len(x))
	}
	taken := make([]bool, len(g))
	newWalker(xs, strides(xs), bstrides(kept, xs)).each([]int{0, 0}, func(off []int) {
		i, o := off[0], off[1]
		switch {
		case r.op != "ReduceMax":
			gx[i] = g[o] * scale
		case !taken[o] && x[i] == y[o]:
			gx[i], taken[o] = g[o], true
		}
	})
	grads[0] = NewF32(slices.Clone(xs), gx)
	return grads, nil
}
