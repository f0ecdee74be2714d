package nn

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// softmax is ONNX Softmax on float32. From opset 13 it normalises along one
// axis (default -1); before, over all axes from axis on (default 1), the
// input seen as a 2-D matrix.
type softmax struct {
	axis      int64
	flattened bool
}

var _ Differentiable = (*softmax)(nil)

func newSoftmax(opset int, a Attrs) (Op, error) {
	if err := a.Check("Softmax", "axis"); err != nil {
		return nil, err
	}
	s := &softmax{flattened: opset < 13}
	def := int64(-1)
	if s.flattened {
		def = 1
	}
	var err error
	if s.axis, err = a.Int("axis", def); err != nil {
		return nil, fmt.Errorf("Softmax: %w", err)
	}
	return s, nil
}

// geometry splits X into outer × n × inner, n being the normalised extent.
func (s *softmax) geometry(x *tensor.Dense) (outer, n, inner int, err error) {
	if x.Dtype() != tensor.Float32 {
		return 0, 0, 0, &UnsupportedError{Op: "Softmax", Reason: fmt.Sprintf("input of type %v (float32 only)", x.Dtype())}
	}
	xs := Shape(x)
	ax, err := normAxis(s.axis, max(len(xs), 1))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("Softmax: %w", err)
	}
	if len(xs) == 0 {
		return 1, 1, 1, nil
	}
	outer, n, inner = Size(xs[:ax]), xs[ax], Size(xs[ax+1:])
	if s.flattened {
		n, inner = n*inner, 1
	}
	return outer, n, inner, nil
}

func (s *softmax) Forward(_ *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	if len(in) != 1 || in[0] == nil {
		return nil, nil, fmt.Errorf("Softmax: want 1 input")
	}
	outer, n, inner, err := s.geometry(in[0])
	if err != nil {
		return nil, nil, err
	}
	x := in[0].Float32s()
	y := make([]float32, len(x))
	for o := range outer {
		for i := range inner {
			base := o*n*inner + i
			m := float32(math.Inf(-1))
			for k := range n {
				m = max(m, x[base+k*inner])
			}
			var sum float64
			for k := range n {
				// subtracting the max keeps exp from overflowing
				e := math.Exp(float64(x[base+k*inner] - m))
				y[base+k*inner] = float32(e)
				sum += e
			}
			for k := range n {
				y[base+k*inner] = float32(float64(y[base+k*inner]) / sum)
			}
		}
	}
	return []*tensor.Dense{NewF32(Shape(in[0]), y)}, nil, nil
}

// Backward: dx = y ⊙ (g - Σ g⊙y) along the normalised extent.
func (s *softmax) Backward(in, out, gradOut []*tensor.Dense, _ any) ([]*tensor.Dense, error) {
	if gradOut[0] == nil {
		return []*tensor.Dense{nil}, nil
	}
	outer, n, inner, err := s.geometry(in[0])
	if err != nil {
		return nil, err
	}
	g, y := gradOut[0].Float32s(), out[0].Float32s()
	gx := make([]float32, len(y))
	for o := range outer {
		for i := range inner {
			base := o*n*inner + i
			var dot float32
			for k := range n {
				dot += g[base+k*inner] * y[base+k*inner]
			}
			for k := range n {
				j := base + k*inner
				gx[j] = y[j] * (g[j] - dot)
			}
		}
	}
	return []*tensor.Dense{NewF32(Shape(in[0]), gx)}, nil
}
