package nn

import (
	"fmt"

	"gorgonia.org/tensor"
)

// pad is ONNX Pad on float32 data in constant, reflect or edge mode. Before
// opset 11 the pads and value are attributes; from 11 on they are inputs
// (pads, constant_value, and from 18 axes). Negative pads crop.
type pad struct {
	mode  string
	pads  []int64 // attribute form
	value float32 // attribute form
	attrs bool
}

var _ Differentiable = (*pad)(nil)

func newPad(opset int, a Attrs) (Op, error) {
	p := &pad{attrs: opset < 11}
	known := []string{"mode"}
	if p.attrs {
		name := "pads"
		if opset < 2 {
			name = "paddings"
		}
		known = append(known, name, "value")
		if err := a.Check("Pad", known...); err != nil {
			return nil, err
		}
		var err error
		if p.pads, err = a.Ints(name, nil); err == nil {
			p.value, err = a.Float("value", 0)
		}
		if err != nil {
			return nil, fmt.Errorf("Pad: %w", err)
		}
	} else if err := a.Check("Pad", known...); err != nil {
		return nil, err
	}
	mode, err := a.String("mode", "constant")
	if err != nil {
		return nil, fmt.Errorf("Pad: %w", err)
	}
	switch mode {
	case "constant", "reflect", "edge":
	default:
		return nil, &UnsupportedError{Op: "Pad", Reason: fmt.Sprintf("mode %q (constant, reflect and edge are implemented)", mode)}
	}
	p.mode = mode
	return p, nil
}

// sources maps, per axis, each output position to the input position it
// copies, or -1 for the constant; it also returns the output shape.
func (p *pad) sources(in []*tensor.Dense) (src [][]int, out []int, value float32, err error) {
	if len(in) < 1 || in[0] == nil {
		return nil, nil, 0, fmt.Errorf("Pad: want input data")
	}
	if in[0].Dtype() != tensor.Float32 {
		return nil, nil, 0, &UnsupportedError{Op: "Pad", Reason: fmt.Sprintf("data of type %v (float32 only)", in[0].Dtype())}
	}
	xs := Shape(in[0])
	pads, value := p.pads, p.value
	var axes []int64
	if !p.attrs {
		if len(in) < 2 || in[1] == nil {
			return nil, nil, 0, fmt.Errorf("Pad: want input pads")
		}
		if pads, err = I64(in[1]); err != nil {
			return nil, nil, 0, fmt.Errorf("Pad: pads: %w", err)
		}
		if len(in) > 2 && in[2] != nil {
			v, err := F32(in[2])
			if err != nil || len(v) != 1 {
				return nil, nil, 0, fmt.Errorf("Pad: constant_value must be one float32")
			}
			value = v[0]
		}
		if len(in) > 3 && in[3] != nil {
			if axes, err = I64(in[3]); err != nil {
				return nil, nil, 0, fmt.Errorf("Pad: axes: %w", err)
			}
		}
	}
	begin, end := make([]int, len(xs)), make([]int, len(xs))
	if axes == nil {
		if len(pads) != 2*len(xs) {
			return nil, nil, 0, fmt.Errorf("Pad: %d pads for rank %d, want %d", len(pads), len(xs), 2*len(xs))
		}
		for i := range xs {
			begin[i], end[i] = int(pads[i]), int(pads[i+len(xs)])
		}
	} else {
		if len(pads) != 2*len(axes) {
			return nil, nil, 0, fmt.Errorf("Pad: %d pads for %d axes", len(pads), len(axes))
		}
		for k, a := range axes {
			ax, err := normAxis(a, len(xs))
			if err != nil {
				return nil, nil, 0, fmt.Errorf("Pad: %w", err)
			}
			begin[ax], end[ax] = int(pads[k]), int(pads[k+len(axes)])
		}
	}
	out = make([]int, len(xs))
	src = make([][]int, len(xs))
	for ax, n := range xs {
		if out[ax] = n + begin[ax] + end[ax]; out[ax] < 0 {
			return nil, nil, 0, fmt.Errorf("Pad: axis %d of size %d cropped below zero", ax, n)
		}
		if p.mode != "constant" && n == 0 && out[ax] > 0 {
			return nil, nil, 0, fmt.Errorf("Pad: %s mode on empty axis %d", p.mode, ax)
		}
		if p.mode == "reflect" && (begin[ax] >= n || end[ax] >= n) && n > 1 {
			return nil, nil, 0, fmt.Errorf("Pad: reflect pads %d,%d on axis %d of size %d, want less than the size", begin[ax], end[ax], ax, n)
		}
		src[ax] = make([]int, out[ax])
		for o := range src[ax] {
			src[ax][o] = p.source(o-begin[ax], n)
		}
	}
	return src, out, value, nil
}

// source is the input position output position c (shifted by the leading
// pad) reads on an axis of size n, or -1 for the constant.
func (p *pad) source(c, n int) int {
	if c >= 0 && c < n {
		return c
	}
	switch p.mode {
	case "edge":
		return min(max(c, 0), n-1)
	case "reflect":
		if n == 1 {
			return 0
		}
		if c < 0 {
			return -c
		}
		return 2*(n-1) - c
	}
	return -1
}

// padWalk calls f with each output offset and the input offset it reads (-1
// for the constant).
func padWalk(src [][]int, out, xs []int, f func(o, i int)) {
	if Size(out) == 0 {
		return
	}
	st := strides(xs)
	idx := make([]int, len(out))
	for o := range Size(out) {
		i := 0
		for ax, c := range idx {
			s := src[ax][c]
			if s < 0 {
				i = -1
				break
			}
			i += s * st[ax]
		}
		f(o, i)
		step(idx, out)
	}
}

func (p *pad) Forward(_ *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	src, out, value, err := p.sources(in)
	if err != nil {
		return nil, nil, err
	}
	x := in[0].Float32s()
	y := make([]float32, Size(out))
	padWalk(src, out, Shape(in[0]), func(o, i int) {
		if i < 0 {
			y[o] = value
		} else {
			y[o] = x[i]
		}
	})
	return []*tensor.Dense{NewF32(out, y)}, nil, nil
}

// Backward sums each output gradient into the input element it copied
// (reflect and edge copy some more than once) or into constant_value.
func (p *pad) Backward(in, _, gradOut []*tensor.Dense, _ any) ([]*tensor.Dense, error) {
	grads := make([]*tensor.Dense, len(in))
	if gradOut[0] == nil {
		return grads, nil
	}
	src, out, _, err := p.sources(in)
	if err != nil {
		return nil, err
	}
	g := gradOut[0].Float32s()
	gx := make([]float32, Size(Shape(in[0])))
	var gv float32
	padWalk(src, out, Shape(in[0]), func(o, i int) {
		if i < 0 {
			gv += g[o]
		} else {
			gx[i] += g[o]
		}
	})
	grads[0] = NewF32(Shape(in[0]), gx)
	if !p.attrs && len(in) > 2 && in[2] != nil {
		grads[2] = NewF32(Shape(in[2]), []float32{gv})
	}
	return grads, nil
}
