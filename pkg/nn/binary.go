package nn

import (
	"fmt"
	"math"
	"slices"

	"gorgonia.org/tensor"
)

// binary is Add, Sub, Mul, Div or Pow with multidirectional broadcasting on
// float32 or int64 tensors.
type binary struct {
	op string
	// legacy: opset < 7 with broadcast=1, where B is broadcast onto A
	// starting at axis (-1: aligned to the right).
	legacy bool
	axis   int64
	// strict: opset < 7 without broadcast, where the shapes must be equal.
	strict bool
}

var _ Differentiable = (*binary)(nil)

func newBinary(op string, opset int, a Attrs) (Op, error) {
	b := &binary{op: op, axis: -1}
	if opset >= 7 {
		return b, a.Check(op)
	}
	if err := a.Check(op, "broadcast", "axis"); err != nil {
		return nil, err
	}
	bc, err := a.Int("broadcast", 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if b.axis, err = a.Int("axis", -1); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	b.legacy, b.strict = bc != 0, bc == 0
	return b, nil
}

// shapes returns A's shape, B's shape as it broadcasts, and the output's.
func (b *binary) shapes(x, y *tensor.Dense) (sa, sb, out []int, err error) {
	sa, sb = Shape(x), Shape(y)
	switch {
	case b.legacy:
		axis := int(b.axis)
		if b.axis < 0 {
			axis = len(sa) - len(sb)
		}
		if axis < 0 || axis+len(sb) > len(sa) {
			return nil, nil, nil, fmt.Errorf("%s: legacy broadcast of %v onto %v at axis %d", b.op, sb, sa, b.axis)
		}
		pad := make([]int, len(sa))
		for i := range pad {
			pad[i] = 1
		}
		copy(pad[axis:], sb)
		sb = pad
	case b.strict && !slices.Equal(sa, sb):
		return nil, nil, nil, fmt.Errorf("%s: shapes %v and %v differ and broadcast is off (opset < 7)", b.op, sa, sb)
	}
	out, err = broadcastShape(sa, sb)
	if err == nil && b.legacy && !slices.Equal(out, sa) {
		// legacy broadcasting only ever stretches B
		err = fmt.Errorf("legacy broadcast of %v onto %v would grow A", Shape(y), sa)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", b.op, err)
	}
	return sa, sb, out, nil
}

func (b *binary) Forward(_ *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return nil, nil, fmt.Errorf("%s: want 2 inputs", b.op)
	}
	out, err := b.apply(b.op, in[0], in[1])
	if err != nil {
		return nil, nil, err
	}
	return []*tensor.Dense{out}, nil, nil
}

// apply computes x op y with b's broadcasting rule; Backward reuses it with
// other ops to form the gradient terms.
func (b *binary) apply(op string, x, y *tensor.Dense) (*tensor.Dense, error) {
	if x.Dtype() != y.Dtype() {
		return nil, fmt.Errorf("%s: input types %v and %v differ", b.op, x.Dtype(), y.Dtype())
	}
	sa, sb, so, err := b.shapes(x, y)
	if err != nil {
		return nil, err
	}
	w := newWalker(so, strides(so), bstrides(sa, so), bstrides(sb, so))
	out := newDense(x.Dtype(), so)
	switch o := backing(out).(type) {
	case []float32:
		arith(op, o, x.Float32s(), y.Float32s(), w)
	case []int64:
		yv := y.Int64s()
		if op == "Div" {
			for _, v := range yv {
				if v == 0 {
					return nil, fmt.Errorf("%s: integer division by zero", b.op)
				}
			}
		}
		arith(op, o, x.Int64s(), yv, w)
	default:
		return nil, &UnsupportedError{Op: b.op, Reason: fmt.Sprintf("input type %v (want float32 or int64)", x.Dtype())}
	}
	return out, nil
}

// arith fills o = x op y along w (operands o, x, y); runs with unit steps,
// the equal-shape case, take the loops without index arithmetic.
func arith[T float32 | int64](op string, o, x, y []T, w *walker) {
	n, step := w.run()
	sx, sy := step[1], step[2]
	w.rows([]int{0, 0, 0}, func(off []int) {
		r := o[off[0] : off[0]+n]
		i, j := off[1], off[2]
		if sx == 1 && sy == 1 {
			a, b := x[i:i+n], y[j:j+n]
			switch op {
			case "Add":
				for k := range r {
					r[k] = a[k] + b[k]
				}
			case "Sub":
				for k := range r {
					r[k] = a[k] - b[k]
				}
			case "Mul":
				for k := range r {
					r[k] = a[k] * b[k]
				}
			case "Div":
				for k := range r {
					r[k] = a[k] / b[k]
				}
			case "Pow":
				for k := range r {
					r[k] = T(math.Pow(float64(a[k]), float64(b[k])))
				}
			}
			return
		}
		switch op {
		case "Add":
			for k := range r {
				r[k] = x[i] + y[j]
				i, j = i+sx, j+sy
			}
		case "Sub":
			for k := range r {
				r[k] = x[i] - y[j]
				i, j = i+sx, j+sy
			}
		case "Mul":
			for k := range r {
				r[k] = x[i] * y[j]
				i, j = i+sx, j+sy
			}
		case "Div":
			for k := range r {
				r[k] = x[i] / y[j]
				i, j = i+sx, j+sy
			}
		case "Pow":
			for k := range r {
				r[k] = T(math.Pow(float64(x[i]), float64(y[j])))
				i, j = i+sx, j+sy
			}
		}
	})
}

func (b *binary) Backward(in, out, gradOut []*tensor.Dense, _ any) ([]*tensor.Dense, error) {
	g := gradOut[0]
	if g == nil {
		return make([]*tensor.Dense, 2), nil
	}
	x, y := in[0], in[1]
	if x.Dtype() != tensor.Float32 || y.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("%s: backward needs float32 inputs, got %v", b.op, x.Dtype())
	}
	sa, sb, so, err := b.shapes(x, y)
	if err != nil {
		return nil, err
	}
	// Full-size gradient terms, then one reduction each to the input shape.
	var ta, tb *tensor.Dense
	switch b.op {
	case "Add", "Sub":
		ta, tb = g, g
	case "Mul":
		ta, err = b.apply("Mul", g, y)
		if err == nil {
			tb, err = b.apply("Mul", g, x)
		}
	case "Div":
		// d(x/y)/dy = -out/y; g and out/y have the output's shape, so their
		// product takes plain broadcasting even for a legacy node.
		ta, err = b.apply("Div", g, y)
		if err == nil {
			tb, err = b.apply("Div", out[0], y)
		}
		if err == nil {
			tb, err = (&binary{op: b.op}).apply("Mul", g, tb)
		}
	case "Pow":
		ta, tb = powTerms(g.Float32s(), x.Float32s(), y.Float32s(), out[0].Float32s(), sa, sb, so)
	}
	if err != nil {
		return nil, err
	}
	ga := reduceTo(ta.Float32s(), so, sa)
	gb := reduceTo(tb.Float32s(), so, sb)
	if b.op == "Sub" || b.op == "Div" {
		for i, v := range gb.Float32s() {
			gb.Float32s()[i] = -v
		}
	}
	if !slices.Equal(sb, Shape(y)) {
		// legacy broadcast padded B's shape; hand back B's own
		if gb, err = view(gb, Shape(y)); err != nil {
			return nil, fmt.Errorf("%s: %w", b.op, err)
		}
	}
	return []*tensor.Dense{ga, gb}, nil
}

// powTerms returns the full-size gradient terms of z = x^y: g·y·x^(y-1) and
// g·z·ln x (zero where x <= 0, where the real logarithm is undefined and
// only integral exponents make sense).
func powTerms(g, x, y, z []float32, sa, sb, so []int) (ta, tb *tensor.Dense) {
	ga, gb := make([]float32, len(g)), make([]float32, len(g))
	w := newWalker(so, strides(so), bstrides(sa, so), bstrides(sb, so))
	w.each([]int{0, 0, 0}, func(off []int) {
		o, xv, yv := off[0], float64(x[off[1]]), float64(y[off[2]])
		ga[o] = g[o] * float32(yv*math.Pow(xv, yv-1))
		if xv > 0 {
			gb[o] = g[o] * z[o] * float32(math.Log(xv))
		}
	})
	return NewF32(so, ga), NewF32(so, gb)
}
