package nn

import (
	"fmt"
	"math"
	"slices"

	"gorgonia.org/tensor"
)

// maxPool is ONNX MaxPool over any number of spatial axes, with the Indices
// output, on float32 and, for inference only, uint8 and int8 X. Indices are always computed: tracking the argmax beside the max
// costs one store per improvement, and Backward needs it anyway.
type maxPool struct {
	win      windowAttrs
	colMajor bool // storage_order 1: Indices count the first spatial axis fastest
}

var _ Differentiable = (*maxPool)(nil)

func newMaxPool(opset int, a Attrs) (Op, error) {
	known := []string{"auto_pad", "kernel_shape", "pads", "strides"}
	if opset >= 8 {
		known = append(known, "storage_order")
	}
	if opset >= 10 {
		known = append(known, "ceil_mode", "dilations")
	}
	if err := a.Check("MaxPool", known...); err != nil {
		return nil, err
	}
	w, order, err := parsePoolAttrs("MaxPool", "storage_order", a)
	if err != nil {
		return nil, err
	}
	return &maxPool{win: w, colMajor: order}, nil
}

// parsePoolAttrs reads the attributes MaxPool and AveragePool share: the
// window with its required kernel_shape and ceil_mode, plus the op's own 0/1
// flag named flag.
func parsePoolAttrs(op, flag string, a Attrs) (windowAttrs, bool, error) {
	w, err := parseWindowAttrs(op, a)
	if err != nil {
		return w, false, err
	}
	if w.kernel == nil {
		return w, false, fmt.Errorf("%s: attribute kernel_shape is required", op)
	}
	ceil, err := a.Int("ceil_mode", 0)
	var f int64
	if err == nil {
		f, err = a.Int(flag, 0)
	}
	if err != nil {
		return w, false, fmt.Errorf("%s: %w", op, err)
	}
	if ceil != 0 && ceil != 1 || f != 0 && f != 1 {
		return w, false, fmt.Errorf("%s: ceil_mode %d and %s %d, want 0 or 1", op, ceil, flag, f)
	}
	w.ceil = ceil == 1
	return w, f == 1, nil
}

// pool returns the maxima and, for each, the row-major flat index into X of
// the element that gave it (the first one on ties); no indices when p says
// nothing reads them.
func (o *maxPool) pool(p *Pass, in []*tensor.Dense) (y []float32, arg []int64, w *window, err error) {
	if len(in) < 1 || in[0] == nil {
		return nil, nil, nil, fmt.Errorf("MaxPool: want input X")
	}
	var x []float32
	switch in[0].Dtype() {
	case tensor.Float32:
		x = in[0].Float32s()
	case tensor.Uint8:
		x = bytesToF32(in[0].Uint8s())
	case tensor.Int8:
		x = bytesToF32(in[0].Int8s())
	default:
		return nil, nil, nil, &UnsupportedError{Op: "MaxPool", Reason: fmt.Sprintf("X of type %v (float32, uint8 and int8 only)", in[0].Dtype())}
	}
	xs := Shape(in[0])
	if len(xs) != len(o.win.kernel)+2 {
		return nil, nil, nil, fmt.Errorf("MaxPool: X shape %v, want [N,C] and %d spatial axes", xs, len(o.win.kernel))
	}
	if w, err = o.win.geometry("MaxPool", xs[2:], toInts(o.win.kernel)); err != nil {
		return nil, nil, nil, err
	}
	planes := xs[0] * xs[1]
	y = p.Floats(planes * w.nOut)
	// Unread indices go to one plane's worth of scratch, overwritten by each plane.
	var scratch []int64
	if p.unread(1) {
		scratch = make([]int64, w.nOut)
	} else {
		arg = make([]int64, planes*w.nOut)
	}
	padded := slices.Min(w.tap) < 0
	for pl := range planes {
		xc := x[pl*w.inSize:][:w.inSize]
		yp := y[pl*w.nOut:][:w.nOut]
		ap := scratch
		if arg != nil {
			ap = arg[pl*w.nOut:][:w.nOut]
		}
		base := int64(pl * w.inSize)
		if !padded {
			// No tap in padding: one sequential pass per tap over the
			// outputs, the first maximum kept.
			for q, p := range w.tap[:w.nOut] {
				yp[q], ap[q] = xc[p], base+int64(p)
			}
			for t := 1; t < w.nTaps; t++ {
				for q, p := range w.tap[t*w.nOut:][:w.nOut] {
					if v := xc[p]; v > yp[q] {
						yp[q], ap[q] = v, base+int64(p)
					}
				}
			}
			continue
		}
		for q := range ap {
			best, at := float32(math.Inf(-1)), int32(-1)
			for t := q; t < len(w.tap); t += w.nOut {
				if p := w.tap[t]; p >= 0 && (at < 0 || xc[p] > best) {
					best, at = xc[p], p
				}
			}
			if at < 0 {
				return nil, nil, nil, fmt.Errorf("MaxPool: output %d of plane %d lies wholly in padding", q, pl)
			}
			yp[q], ap[q] = best, base+int64(at)
		}
	}
	return y, arg, w, nil
}

func (o *maxPool) Forward(p *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	y, arg, w, err := o.pool(p, in)
	if err != nil {
		return nil, nil, err
	}
	if o.colMajor && arg != nil {
		arg = colMajorIndices(arg, Shape(in[0])[2:])
	}
	shape := append(Shape(in[0])[:2], w.out...)
	var out *tensor.Dense
	switch in[0].Dtype() {
	case tensor.Uint8:
		out = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f32ToBytes[uint8](y)))
	case tensor.Int8:
		out = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f32ToBytes[int8](y)))
	default:
		out = NewF32(shape, y)
	}
	if arg == nil {
		return []*tensor.Dense{out, nil}, nil, nil
	}
	return []*tensor.Dense{out, NewI64(shape, arg)}, nil, nil
}

// bytesToF32 widens 8-bit integers, which float32 holds exactly, so that
// 8-bit MaxPool runs the float32 kernel: it only picks values.
func bytesToF32[T uint8 | int8](v []T) []float32 {
	f := make([]float32, len(v))
	for i, b := range v {
		f[i] = float32(b)
	}
	return f
}

// f32ToBytes narrows back values that bytesToF32 widened.
func f32ToBytes[T uint8 | int8](f []float32) []T {
	v := make([]T, len(f))
	for i, x := range f {
		v[i] = T(x)
	}
	return v
}

// colMajorIndices rewrites row-major flat indices with the spatial part
// counted first axis fastest, as storage_order 1 asks; the (n, c) offset
// stays row-major, as in onnxruntime.
func colMajorIndices(arg []int64, spatial []int) []int64 {
	size := int64(Size(spatial))
	r := make([]int64, len(arg))
	for i, a := range arg {
		p, cm, stride := a%size, int64(0), int64(1)
		for d := len(spatial) - 1; d >= 0; d-- {
			// Peel row-major coordinates from the last axis.
			cm += (p % int64(spatial[d])) * (size / int64(spatial[d]) / stride)
			p /= int64(spatial[d])
			stride *= int64(spatial[d])
		}
		r[i] = a - a%size + cm
	}
	return r
}

// Backward routes each output gradient to the input that gave the maximum.
// The argmax is recomputed rather than read from Indices, which storage_order
// may have rewritten.
func (o *maxPool) Backward(in, _, gradOut []*tensor.Dense, _ any) ([]*tensor.Dense, error) {
	if len(in) > 0 && in[0] != nil && in[0].Dtype() != tensor.Float32 {
		return nil, &UnsupportedError{Op: "MaxPool", Reason: fmt.Sprintf("backward for X of type %v: 8-bit MaxPool is inference only", in[0].Dtype())}
	}
	_, arg, _, err := o.pool(nil, in)
	if err != nil {
		return nil, err
	}
	if len(gradOut) < 1 || gradOut[0] == nil {
		return nil, fmt.Errorf("MaxPool backward: no gradient for Y")
	}
	gy, err := F32(gradOut[0])
	if err != nil || len(gy) != len(arg) {
		return nil, fmt.Errorf("MaxPool backward: gradient of Y has shape %v, want %d values", Shape(gradOut[0]), len(arg))
	}
	dx := make([]float32, Size(Shape(in[0])))
	for q, a := range arg {
		dx[a] += gy[q]
	}
	return []*tensor.Dense{NewF32(Shape(in[0]), dx)}, nil
}
