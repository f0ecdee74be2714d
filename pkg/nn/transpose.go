package nn

import (
	"fmt"

	"gorgonia.org/tensor"
)

// transpose permutes axes: output axis i is input axis perm[i].
type transpose struct {
	perm []int64 // nil: reverse the axes
}

var _ Differentiable = (*transpose)(nil)

func newTranspose(_ int, a Attrs) (Op, error) {
	if err := a.Check("Transpose", "perm"); err != nil {
		return nil, err
	}
	perm, err := a.Ints("perm", nil)
	if err != nil {
		return nil, fmt.Errorf("Transpose: %w", err)
	}
	return &transpose{perm: perm}, nil
}

// layout returns the output shape, its contiguous strides and the input's
// strides read along the output's axes.
func (t *transpose) layout(x []int) (out, outStr, inStr []int, err error) {
	perm := make([]int, len(x))
	for i := range perm {
		perm[i] = len(x) - 1 - i
	}
	if t.perm != nil {
		if len(t.perm) != len(x) {
			return nil, nil, nil, fmt.Errorf("Transpose: perm %v for rank %d", t.perm, len(x))
		}
		seen := make([]bool, len(x))
		for i, p := range t.perm {
			if p < 0 || p >= int64(len(x)) || seen[p] {
				return nil, nil, nil, fmt.Errorf("Transpose: perm %v is not a permutation of 0..%d", t.perm, len(x)-1)
			}
			seen[p] = true
			perm[i] = int(p)
		}
	}
	xs := strides(x)
	out, inStr = make([]int, len(x)), make([]int, len(x))
	for i, p := range perm {
		out[i], inStr[i] = x[p], xs[p]
	}
	return out, strides(out), inStr, nil
}

func (t *transpose) Forward(p *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	if len(in) != 1 || in[0] == nil {
		return nil, nil, fmt.Errorf("Transpose: want 1 input")
	}
	shape, outStr, inStr, err := t.layout(Shape(in[0]))
	if err != nil {
		return nil, nil, err
	}
	out := newDense(in[0].Dtype(), shape)
	if in[0].Dtype() == tensor.Float32 && len(shape) > 0 {
		out = NewF32(shape, p.Floats(Size(shape)))
	}
	if err := moveData(out, in[0], newWalker(shape, outStr, inStr), 0, 0); err != nil {
		return nil, nil, &UnsupportedError{Op: "Transpose", Reason: err.Error()}
	}
	return []*tensor.Dense{out}, nil, nil
}

// Backward walks the same layout with the roles swapped: the gradient's
// element at each output position goes back to the input position.
func (t *transpose) Backward(in, _, gradOut []*tensor.Dense, _ any) ([]*tensor.Dense, error) {
	if gradOut[0] == nil {
		return []*tensor.Dense{nil}, nil
	}
	shape, outStr, inStr, err := t.layout(Shape(in[0]))
	if err != nil {
		return nil, err
	}
	g := newDense(gradOut[0].Dtype(), Shape(in[0]))
	if err := moveData(g, gradOut[0], newWalker(shape, inStr, outStr), 0, 0); err != nil {
		return nil, fmt.Errorf("Transpose: gradient: %w", err)
	}
	return []*tensor.Dense{g}, nil
}
