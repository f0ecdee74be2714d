package nn

import (
	"fmt"

	"gorgonia.org/tensor"
)

// shapeOp returns the input's dimensions [start, end) as int64; start and
// end came with opset 15 and are clamped to the rank.
type shapeOp struct {
	start, end int64
	hasEnd     bool
}

var _ Op = (*shapeOp)(nil)

func newShape(opset int, a Attrs) (Op, error) {
	var known []string
	if opset >= 15 {
		known = []string{"start", "end"}
	}
	if err := a.Check("Shape", known...); err != nil {
		return nil, err
	}
	s := &shapeOp{}
	var err error
	if s.start, err = a.Int("start", 0); err != nil {
		return nil, fmt.Errorf("Shape: %w", err)
	}
	_, s.hasEnd = a["end"]
	if s.end, err = a.Int("end", 0); err != nil {
		return nil, fmt.Errorf("Shape: %w", err)
	}
	return s, nil
}

func (s *shapeOp) Forward(_ *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	if len(in) != 1 || in[0] == nil {
		return nil, nil, fmt.Errorf("Shape: want 1 input")
	}
	x := Shape(in[0])
	r := int64(len(x))
	clamp := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start, end := clamp(s.start), r
	if s.hasEnd {
		end = clamp(s.end)
	}
	dims := []int64{}
	for _, d := range x[start:max(start, end)] {
		dims = append(dims, int64(d))
	}
	return []*tensor.Dense{NewI64([]int{len(dims)}, dims)}, nil, nil
}
