package nn

import (
	"fmt"

	"gorgonia.org/tensor"
)

// regroup is an op that changes only the shape (Reshape, Squeeze,
// Unsqueeze, Flatten, Identity): the output shares the input's data and the
// gradient is the output gradient seen with the input's shape.
type regroup struct {
	op string
	// shape gives the output shape from the input shape x and all inputs.
	shape func(x []int, in []*tensor.Dense) ([]int, error)
}

var _ Differentiable = (*regroup)(nil)

func (r *regroup) Forward(_ *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	if len(in) == 0 || in[0] == nil {
		return nil, nil, fmt.Errorf("%s: missing data input", r.op)
	}
	s, err := r.shape(Shape(in[0]), in)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", r.op, err)
	}
	if err := checkSize(s); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", r.op, err)
	}
	if Size(s) != Size(Shape(in[0])) {
		return nil, nil, fmt.Errorf("%s: shape %v does not hold the %d elements of %v", r.op, s, Size(Shape(in[0])), Shape(in[0]))
	}
	out, err := view(in[0], s)
	if err != nil {
		return nil, nil, &UnsupportedError{Op: r.op, Reason: err.Error()}
	}
	return []*tensor.Dense{out}, nil, nil
}

func (r *regroup) Backward(in, _, gradOut []*tensor.Dense, _ any) ([]*tensor.Dense, error) {
	gradIn := make([]*tensor.Dense, len(in))
	if gradOut[0] == nil {
		return gradIn, nil
	}
	g, err := view(gradOut[0], Shape(in[0]))
	if err != nil {
		return nil, fmt.Errorf("%s: gradient: %w", r.op, err)
	}
	gradIn[0] = g
	return gradIn, nil
}

func newReshape(opset int, a Attrs) (Op, error) {
	if opset < 5 {
		if err := a.Check("Reshape", "shape"); err != nil {
			return nil, err
		}
		target, err := a.Ints("shape", nil)
		if err != nil {
			return nil, fmt.Errorf("Reshape: %w", err)
		}
		return &regroup{op: "Reshape", shape: func(x []int, _ []*tensor.Dense) ([]int, error) {
			return reshapeTo(x, target, false)
		}}, nil
	}
	known := []string{}
	if opset >= 14 {
		known = append(known, "allowzero")
	}
	if err := a.Check("Reshape", known...); err != nil {
		return nil, err
	}
	allowZero, err := a.Int("allowzero", 0)
	if err != nil {
		return nil, fmt.Errorf("Reshape: %w", err)
	}
	return &regroup{op: "Reshape", shape: func(x []int, in []*tensor.Dense) ([]int, error) {
		target, err := intsInput(in, 1, "shape")
		if err != nil {
			return nil, err
		}
		if target == nil {
			return nil, fmt.Errorf("missing shape input")
		}
		return reshapeTo(x, target, allowZero != 0)
	}}, nil
}

// reshapeTo resolves Reshape's target: 0 copies the input's dimension
// unless allowZero, and one -1 takes what is left.
func reshapeTo(x []int, target []int64, allowZero bool) ([]int, error) {
	out := make([]int, len(target))
	infer := -1
	known := 1
	for i, d := range target {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("shape %v has more than one -1", target)
			}
			infer = i
			continue
		case d == 0 && !allowZero:
			if i >= len(x) {
				return nil, fmt.Errorf("shape %v copies dimension %d of the rank-%d input", target, i, len(x))
			}
			out[i] = x[i]
		case d < 0:
			return nil, fmt.Errorf("shape %v has negative dimension %d", target, d)
		default:
			out[i] = int(d)
		}
		known *= out[i]
	}
	if infer >= 0 {
		if known == 0 {
			return nil, fmt.Errorf("shape %v: -1 is ambiguous beside a 0", target)
		}
		if Size(x)%known != 0 {
			return nil, fmt.Errorf("shape %v does not divide the %d elements of %v", target, Size(x), x)
		}
		out[infer] = Size(x) / known
	}
	return out, nil
}

// intsInput reads optional input i as int64 values (int32 widened); nil
// when the input is absent.
func intsInput(in []*tensor.Dense, i int, name string) ([]int64, error) {
	if i >= len(in) || in[i] == nil {
		return nil, nil
	}
	switch v := backing(in[i]).(type) {
	case []int64:
		if v == nil {
			v = []int64{} // present but empty, which callers tell from absent
		}
		return v, nil
	case []int32:
		w := make([]int64, len(v))
		for j, e := range v {
			w[j] = int64(e)
		}
		return w, nil
	}
	return nil, fmt.Errorf("%s input: want int64 or int32, got %v", name, in[i].Dtype())
}
