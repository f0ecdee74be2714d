package nn

import (
	"fmt"

	"gorgonia.org/tensor"
)

// slice takes a strided window: starts, ends, axes and steps are
// attributes before opset 10 (steps all 1) and inputs from 10 on.
type slice struct {
	opset              int
	starts, ends, axes []int64
}

var _ Differentiable = (*slice)(nil)

func newSlice(opset int, a Attrs) (Op, error) {
	if opset >= 10 {
		return &slice{opset: opset}, a.Check("Slice")
	}
	if err := a.Check("Slice", "starts", "ends", "axes"); err != nil {
		return nil, err
	}
	s := &slice{opset: opset}
	var err error
	if s.starts, err = a.Ints("starts", nil); err != nil {
		return nil, fmt.Errorf("Slice: %w", err)
	}
	if s.ends, err = a.Ints("ends", nil); err != nil {
		return nil, fmt.Errorf("Slice: %w", err)
	}
	if s.axes, err = a.Ints("axes", nil); err != nil {
		return nil, fmt.Errorf("Slice: %w", err)
	}
	if s.starts == nil || s.ends == nil {
		return nil, fmt.Errorf("Slice: attributes starts and ends are required")
	}
	return s, nil
}

// params returns starts, ends, axes (nil: 0, 1, ...) and steps (nil: all 1).
func (s *slice) params(in []*tensor.Dense) (starts, ends, axes, steps []int64, err error) {
	if s.opset < 10 {
		return s.starts, s.ends, s.axes, nil, nil
	}
	var all [4][]int64
	for i, name := range []string{"starts", "ends", "axes", "steps"} {
		if all[i], err = intsInput(in, i+1, name); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	if all[0] == nil || all[1] == nil {
		return nil, nil, nil, nil, fmt.Errorf("inputs starts and ends are required")
	}
	return all[0], all[1], all[2], all[3], nil
}

// layout returns the output shape, the input's strides along the output's
// axes (scaled by the steps) and the input offset of the first element.
func (s *slice) layout(in []*tensor.Dense) (out, srcStr []int, base int, err error) {
	if len(in) == 0 || in[0] == nil {
		return nil, nil, 0, fmt.Errorf("Slice: missing data input")
	}
	starts, ends, axes, steps, err := s.params(in)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("Slice: %w", err)
	}
	x := Shape(in[0])
	if len(ends) != len(starts) || axes != nil && len(axes) != len(starts) || steps != nil && len(steps) != len(starts) {
		return nil, nil, 0, fmt.Errorf("Slice: starts %v, ends %v, axes %v and steps %v differ in length", starts, ends, axes, steps)
	}
	out, srcStr = append([]int(nil), x...), strides(x)
	seen := make([]bool, len(x))
	for i := range starts {
		ax := int64(i)
		if axes != nil {
			ax = axes[i]
		}
		a, err := normAxis(ax, len(x))
		if err != nil || seen[a] {
			return nil, nil, 0, fmt.Errorf("Slice: axes %v invalid or repeated for rank %d", axes, len(x))
		}
		seen[a] = true
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		if step == 0 {
			return nil, nil, 0, fmt.Errorf("Slice: step 0 on axis %d", ax)
		}
		start, n := sliceRange(starts[i], ends[i], step, int64(x[a]))
		base += int(start) * srcStr[a]
		out[a], srcStr[a] = int(n), srcStr[a]*int(step)
	}
	return out, srcStr, base, nil
}

// sliceRange clamps start and end to the axis of size d as the ONNX spec
// does and returns the first index and the number of elements.
func sliceRange(start, end, step, d int64) (first, n int64) {
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	if step > 0 {
		start, end = min(max(start, 0), d), min(max(end, 0), d)
		if end <= start {
			return 0, 0
		}
		return start, (end - start + step - 1) / step
	}
	start, end = min(max(start, 0), d-1), min(max(end, -1), d-1)
	if end >= start {
		return 0, 0
	}
	return start, (start - end - step - 1) / -step
}

func (s *slice) Forward(_ *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	so, srcStr, base, err := s.layout(in)
	if err != nil {
		return nil, nil, err
	}
	out := newDense(in[0].Dtype(), so)
	if err := moveData(out, in[0], newWalker(so, strides(so), srcStr), 0, base); err != nil {
		return nil, nil, &UnsupportedError{Op: "Slice", Reason: err.Error()}
	}
	return []*tensor.Dense{out}, nil, nil
}

func (s *slice) Backward(in, _, gradOut []*tensor.Dense, _ any) ([]*tensor.Dense, error) {
	gradIn := make([]*tensor.Dense, len(in))
	if gradOut[0] == nil {
		return gradIn, nil
	}
	so, srcStr, base, err := s.layout(in)
	if err != nil {
		return nil, err
	}
	gradIn[0] = newDense(gradOut[0].Dtype(), Shape(in[0]))
	if err := moveData(gradIn[0], gradOut[0], newWalker(so, srcStr, strides(so)), base, 0); err != nil {
		return nil, fmt.Errorf("Slice: gradient: %w", err)
	}
	return gradIn, nil
}
