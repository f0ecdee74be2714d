package nn

import (
	"fmt"

	"gorgonia.org/tensor"
)

// concat joins its inputs along axis; each input is one strided copy into
// its block of the output, and the backward pass copies the blocks back.
type concat struct {
	axis int64
}

var _ Differentiable = (*concat)(nil)

func newConcat(opset int, a Attrs) (Op, error) {
	if err := a.Check("Concat", "axis"); err != nil {
		return nil, err
	}
	if _, ok := a["axis"]; !ok && opset >= 4 {
		return nil, fmt.Errorf("Concat: attribute axis is required")
	}
	axis, err := a.Int("axis", 1)
	if err != nil {
		return nil, fmt.Errorf("Concat: %w", err)
	}
	return &concat{axis: axis}, nil
}

// layout returns the output shape, the axis and each input's offset in the
// output.
func (c *concat) layout(in []*tensor.Dense) (out []int, axis int, offs []int, err error) {
	if len(in) == 0 || in[0] == nil {
		return nil, 0, nil, fmt.Errorf("Concat: no inputs")
	}
	out = Shape(in[0])
	if axis, err = normAxis(c.axis, len(out)); err != nil {
		return nil, 0, nil, fmt.Errorf("Concat: %w", err)
	}
	out[axis] = 0
	st := strides(Shape(in[0]))
	for i, t := range in {
		if t == nil || t.Dtype() != in[0].Dtype() {
			return nil, 0, nil, fmt.Errorf("Concat: input %d missing or not %v", i, in[0].Dtype())
		}
		s := Shape(t)
		for d := range out {
			if len(s) != len(out) || d != axis && s[d] != out[d] {
				return nil, 0, nil, fmt.Errorf("Concat: input %d has shape %v, input 0 %v (axis %d)", i, s, Shape(in[0]), axis)
			}
		}
		// the axes after axis agree, so input 0's stride is the output's
		offs = append(offs, out[axis]*st[axis])
		out[axis] += s[axis]
	}
	return out, axis, offs, nil
}

func (c *concat) Forward(_ *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	so, _, offs, err := c.layout(in)
	if err != nil {
		return nil, nil, err
	}
	out := newDense(in[0].Dtype(), so)
	ost := strides(so)
	for i, t := range in {
		s := Shape(t)
		if err := moveData(out, t, newWalker(s, ost, strides(s)), offs[i], 0); err != nil {
			return nil, nil, &UnsupportedError{Op: "Concat", Reason: err.Error()}
		}
	}
	return []*tensor.Dense{out}, nil, nil
}

func (c *concat) Backward(in, _, gradOut []*tensor.Dense, _ any) ([]*tensor.Dense, error) {
	gradIn := make([]*tensor.Dense, len(in))
	if gradOut[0] == nil {
		return gradIn, nil
	}
	so, _, offs, err := c.layout(in)
	if err != nil {
		return nil, err
	}
	ost := strides(so)
	for i, t := range in {
		s := Shape(t)
		gradIn[i] = newDense(gradOut[0].Dtype(), s)
		if err := moveData(gradIn[i], gradOut[0], newWalker(s, strides(s), ost), 0, offs[i]); err != nil {
			return nil, fmt.Errorf("Concat: gradient: %w", err)
		}
	}
	return gradIn, nil
}
