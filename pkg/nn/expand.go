package nn

import (
	"fmt"

	"gorgonia.org/tensor"
)

// expand broadcasts its input to the broadcast of its shape and the given
// shape (numpy rules, so a 1 in shape keeps the input's dimension).
type expand struct{}

var _ Differentiable = expand{}

func newExpand(_ int, a Attrs) (Op, error) {
	return expand{}, a.Check("Expand")
}

func (expand) outShape(in []*tensor.Dense) ([]int, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("Expand: want inputs input and shape")
	}
	target, err := intsInput(in, 1, "shape")
	if err != nil {
		return nil, fmt.Errorf("Expand: %w", err)
	}
	s := make([]int, len(target))
	for i, d := range target {
		s[i] = int(d)
	}
	out, err := broadcastShape(Shape(in[0]), s)
	if err == nil {
		err = checkSize(out)
	}
	if err != nil {
		return nil, fmt.Errorf("Expand: %w", err)
	}
	return out, nil
}

func (e expand) Forward(_ *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	so, err := e.outShape(in)
	if err != nil {
		return nil, nil, err
	}
	out := newDense(in[0].Dtype(), so)
	if err := moveData(out, in[0], newWalker(so, strides(so), bstrides(Shape(in[0]), so)), 0, 0); err != nil {
		return nil, nil, &UnsupportedError{Op: "Expand", Reason: err.Error()}
	}
	return []*tensor.Dense{out}, nil, nil
}

func (e expand) Backward(in, _, gradOut []*tensor.Dense, _ any) ([]*tensor.Dense, error) {
	if gradOut[0] == nil {
		return make([]*tensor.Dense, 2), nil
	}
	so, err := e.outShape(in)
	if err != nil {
		return nil, err
	}
	return []*tensor.Dense{reduceTo(gradOut[0].Float32s(), so, Shape(in[0])), nil}, nil
}
