package nn

import (
	"fmt"

	"gorgonia.org/tensor"
)

// avgPool is ONNX AveragePool over any number of spatial axes on float32,
// on the same window geometry as MaxPool.
type avgPool struct {
	win         windowAttrs
	includePads bool // count_include_pad: padding counts in the divisor
}

var _ Differentiable = (*avgPool)(nil)

func newAvgPool(opset int, a Attrs) (Op, error) {
	known := []string{"auto_pad", "kernel_shape", "pads", "strides"}
	if opset >= 7 {
		known = append(known, "count_include_pad")
	}
	if opset >= 10 {
		known = append(known, "ceil_mode")
	}
	if opset >= 19 {
		known = append(known, "dilations")
	}
	if err := a.Check("AveragePool", known...); err != nil {
		return nil, err
	}
	w, include, err := parsePoolAttrs("AveragePool", "count_include_pad", a)
	if err != nil {
		return nil, err
	}
	if w.ceil && include {
		// the window marks padding and the ceil overhang alike, and only
		// padding counts in the divisor
		return nil, &UnsupportedError{Op: "AveragePool", Reason: "ceil_mode together with count_include_pad"}
	}
	return &avgPool{win: w, includePads: include}, nil
}

// geometry returns the window and, per output position, the divisor.
func (o *avgPool) geometry(x *tensor.Dense) (*window, []float32, error) {
	if x.Dtype() != tensor.Float32 {
		return nil, nil, &UnsupportedError{Op: "AveragePool", Reason: fmt.Sprintf("X of type %v (float32 only)", x.Dtype())}
	}
	xs := Shape(x)
	if len(xs) != len(o.win.kernel)+2 {
		return nil, nil, fmt.Errorf("AveragePool: X shape %v, want [N,C] and %d spatial axes", xs, len(o.win.kernel))
	}
	w, err := o.win.geometry("AveragePool", xs[2:], toInts(o.win.kernel))
	if err != nil {
		return nil, nil, err
	}
	div := make([]float32, w.nOut)
	for q := range div {
		for t := q; t < len(w.tap); t += w.nOut {
			if o.includePads || w.tap[t] >= 0 {
				div[q]++
			}
		}
		if div[q] == 0 {
			return nil, nil, fmt.Errorf("AveragePool: output %d lies wholly in padding", q)
		}
	}
	return w, div, nil
}

func (o *avgPool) Forward(_ *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	if len(in) != 1 || in[0] == nil {
		return nil, nil, fmt.Errorf("AveragePool: want input X")
	}
	w, div, err := o.geometry(in[0])
	if err != nil {
		return nil, nil, err
	}
	xs := Shape(in[0])
	x := in[0].Float32s()
	planes := xs[0] * xs[1]
	y := make([]float32, planes*w.nOut)
	for pl := range planes {
		xc, yp := x[pl*w.inSize:][:w.inSize], y[pl*w.nOut:][:w.nOut]
		for t, p := range w.tap {
			if p >= 0 {
				yp[t%w.nOut] += xc[p]
			}
		}
		for q := range yp {
			yp[q] /= div[q]
		}
	}
	return []*tensor.Dense{NewF32(append(xs[:2:2], w.out...), y)}, nil, nil
}

// Backward spreads each output gradient evenly over the taps it averaged.
func (o *avgPool) Backward(in, _, gradOut []*tensor.Dense, _ any) ([]*tensor.Dense, error) {
	if gradOut[0] == nil {
		return []*tensor.Dense{nil}, nil
	}
	w, div, err := o.geometry(in[0])
	if err != nil {
		return nil, err
	}
	xs := Shape(in[0])
	g := gradOut[0].Float32s()
	gx := make([]float32, Size(xs))
	for pl := range xs[0] * xs[1] {
		gc, gp := gx[pl*w.inSize:][:w.inSize], g[pl*w.nOut:][:w.nOut]
		for t, p := range w.tap {
			if p >= 0 {
				gc[p] += gp[t%w.nOut] / div[t%w.nOut]
			}
		}
	}
	return []*tensor.Dense{NewF32(xs, gx)}, nil
}
