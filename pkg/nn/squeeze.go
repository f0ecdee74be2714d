package nn

import (
	"fmt"

	"gorgonia.org/tensor"
)

// newSqueeze builds Squeeze or Unsqueeze: axes are an attribute before
// opset 13 and the second input from 13 on.
func newSqueeze(op string, opset int, a Attrs) (Op, error) {
	var known []string
	if opset < 13 {
		known = append(known, "axes")
	}
	if err := a.Check(op, known...); err != nil {
		return nil, err
	}
	attrAxes, err := a.Ints("axes", nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	axes := func(in []*tensor.Dense) ([]int64, error) {
		if opset < 13 {
			return attrAxes, nil
		}
		return intsInput(in, 1, "axes")
	}
	reshape := unsqueezeShape
	if op == "Squeeze" {
		reshape = squeezeShape
	}
	return &regroup{op: op, shape: func(x []int, in []*tensor.Dense) ([]int, error) {
		ax, err := axes(in)
		if err != nil {
			return nil, err
		}
		return reshape(x, ax)
	}}, nil
}

// squeezeShape drops the listed axes, which must have size 1, or every
// size-1 axis when none are listed.
func squeezeShape(x []int, axes []int64) ([]int, error) {
	drop := make([]bool, len(x))
	for _, a := range axes {
		i, err := normAxis(a, len(x))
		if err != nil {
			return nil, err
		}
		if x[i] != 1 {
			return nil, fmt.Errorf("axis %d of shape %v is not 1", a, x)
		}
		drop[i] = true
	}
	out := []int{}
	for i, d := range x {
		if !drop[i] && (len(axes) > 0 || d != 1) {
			out = append(out, d)
		}
	}
	return out, nil
}

// unsqueezeShape inserts size-1 axes at the listed positions of the output,
// in any order.
func unsqueezeShape(x []int, axes []int64) ([]int, error) {
	if len(axes) == 0 {
		return nil, fmt.Errorf("no axes given")
	}
	rank := len(x) + len(axes)
	ones := make([]bool, rank)
	for _, a := range axes {
		i, err := normAxis(a, rank)
		if err != nil {
			return nil, err
		}
		if ones[i] {
			return nil, fmt.Errorf("axes %v repeat axis %d", axes, a)
		}
		ones[i] = true
	}
	out := make([]int, rank)
	j := 0
	for i := range out {
		out[i] = 1
		if !ones[i] {
			out[i] = x[j]
			j++
		}
	}
	return out, nil
}
