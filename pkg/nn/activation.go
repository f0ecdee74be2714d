package nn

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// activation is an element-wise float32 function: Relu, Sigmoid, Tanh,
// LeakyRelu or Sqrt.
type activation struct {
	op    string
	alpha float32 // LeakyRelu's slope for x < 0
}

var _ Differentiable = (*activation)(nil)

func newActivation(op string, _ int, a Attrs) (Op, error) {
	act := &activation{op: op}
	if op != "LeakyRelu" {
		return act, a.Check(op)
	}
	if err := a.Check(op, "alpha"); err != nil {
		return nil, err
	}
	alpha, err := a.Float("alpha", 0.01)
	if err != nil {
		return nil, fmt.Errorf("LeakyRelu: %w", err)
	}
	act.alpha = alpha
	return act, nil
}

func (a *activation) Forward(p *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	if len(in) != 1 || in[0] == nil {
		return nil, nil, fmt.Errorf("%s: want 1 input", a.op)
	}
	x, err := F32(in[0])
	if err != nil {
		return nil, nil, &UnsupportedError{Op: a.op, Reason: err.Error()}
	}
	// element-wise, so a dead input can take the output in place
	y := x
	if !p.spare(0) {
		y = p.Floats(len(x))
	}
	parallel(len(x), func(lo, hi int) { a.apply(y[lo:hi], x[lo:hi]) })
	return []*tensor.Dense{NewF32(Shape(in[0]), y)}, nil, nil
}

// apply is the element-wise function; the branch-free max and min keep
// Relu and LeakyRelu at memory speed on data of mixed signs.
func (a *activation) apply(y, x []float32) {
	y = y[:len(x)]
	switch a.op {
	case "Relu":
		for i, v := range x {
			y[i] = max(v, 0)
		}
	case "LeakyRelu":
		for i, v := range x {
			y[i] = max(v, 0) + a.alpha*min(v, 0)
		}
	case "Sigmoid":
		for i := sigmoidVec(y, x); i < len(x); i++ {
			y[i] = sigmoid(x[i])
		}
	case "Tanh":
		for i, v := range x {
			y[i] = float32(math.Tanh(float64(v)))
		}
	case "Sqrt":
		for i, v := range x {
			y[i] = float32(math.Sqrt(float64(v)))
		}
	}
}

// sigmoid never evaluates exp of a positive number, so it neither
// overflows nor loses the small outputs for very negative x.
func sigmoid(v float32) float32 {
	if v >= 0 {
		return 1 / (1 + expNeg(-v))
	}
	e := expNeg(v)
	return e / (1 + e)
}

// expNeg is e^x for x <= 0 in float32 arithmetic (Cephes expf: Cody-Waite
// reduction by ln 2 and a degree-6 polynomial, within 2 ulp), several times
// faster than math.Exp, which keeps the far tail where results turn
// subnormal.
func expNeg(x float32) float32 {
	if x < -87 {
		return float32(math.Exp(float64(x)))
	}
	// x·log2(e) <= 0, so truncating it minus one half rounds to nearest
	k := int32(x*math.Log2E - 0.5)
	n := float32(k)
	r := x - n*0.693359375 + n*2.12194440e-4
	p := ((((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r+5.0000001201e-1)*r*r + r + 1)
	return p * math.Float32frombits(uint32(k+127)<<23)
}

func (a *activation) Backward(in, out, gradOut []*tensor.Dense, _ any) ([]*tensor.Dense, error) {
	if gradOut[0] == nil {
		return []*tensor.Dense{nil}, nil
	}
	g := gradOut[0].Float32s()
	x, y := in[0].Float32s(), out[0].Float32s()
	if len(g) != len(x) {
		return nil, fmt.Errorf("%s: gradient has %d values, input %d", a.op, len(g), len(x))
	}
	gx := make([]float32, len(g))
	switch a.op {
	case "Relu", "LeakyRelu":
		for i, v := range x {
			if v > 0 {
				gx[i] = g[i]
			} else {
				gx[i] = g[i] * a.alpha
			}
		}
	case "Sigmoid":
		for i, v := range y {
			gx[i] = g[i] * v * (1 - v)
		}
	case "Tanh":
		for i, v := range y {
			gx[i] = g[i] * (1 - v*v)
		}
	case "Sqrt":
		for i, v := range y {
			gx[i] = g[i] * 0.5 / v
		}
	}
	return []*tensor.Dense{NewF32(Shape(in[0]), gx)}, nil
}
