package nn

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// batchNorm is ONNX BatchNormalization in inference mode on float32:
// Y = scale·(X - mean)/√(var + ε) + B per channel (axis 1), with the
// running statistics as inputs. Training mode (batch statistics and the
// running-statistic outputs) is refused.
type batchNorm struct {
	eps float32
}

var _ Differentiable = (*batchNorm)(nil)

func newBatchNorm(opset int, a Attrs) (Op, error) {
	known := []string{"epsilon", "momentum"}
	switch {
	case opset < 7:
		known = append(known, "is_test", "spatial", "consumed_inputs")
	case opset < 9:
		known = append(known, "spatial")
	case opset >= 14:
		known = append(known, "training_mode")
	}
	if err := a.Check("BatchNormalization", known...); err != nil {
		return nil, err
	}
	eps, err := a.Float("epsilon", 1e-5)
	var train, spatial, test int64
	if err == nil {
		train, err = a.Int("training_mode", 0)
	}
	if err == nil {
		spatial, err = a.Int("spatial", 1)
	}
	if err == nil {
		test, err = a.Int("is_test", 1)
	}
	if err != nil {
		return nil, fmt.Errorf("BatchNormalization: %w", err)
	}
	if train != 0 || test == 0 && opset < 7 {
		return nil, &UnsupportedError{Op: "BatchNormalization", Reason: "training mode (inference mode only)"}
	}
	if spatial != 1 {
		return nil, &UnsupportedError{Op: "BatchNormalization", Reason: "spatial 0 (per-element statistics)"}
	}
	return &batchNorm{eps: eps}, nil
}

// params checks the inputs and returns X's channel count and the values
// per channel and spatial position.
func (b *batchNorm) params(in []*tensor.Dense) (x, scale, bias, mean, vr []float32, c, inner int, err error) {
	if len(in) != 5 || anyNil(in) {
		return nil, nil, nil, nil, nil, 0, 0, fmt.Errorf("BatchNormalization: want inputs X, scale, B, mean, var")
	}
	vals := make([][]float32, 5)
	for i, t := range in {
		if vals[i], err = F32(t); err != nil {
			return nil, nil, nil, nil, nil, 0, 0, &UnsupportedError{Op: "BatchNormalization", Reason: err.Error()}
		}
	}
	xs := Shape(in[0])
	if len(xs) < 2 {
		return nil, nil, nil, nil, nil, 0, 0, fmt.Errorf("BatchNormalization: X shape %v, want [N,C,...]", xs)
	}
	c, inner = xs[1], Size(xs[2:])
	for i := 1; i < 5; i++ {
		if len(vals[i]) != c {
			return nil, nil, nil, nil, nil, 0, 0, fmt.Errorf("BatchNormalization: input %d has %d values for %d channels", i, len(vals[i]), c)
		}
	}
	return vals[0], vals[1], vals[2], vals[3], vals[4], c, inner, nil
}

// anyNil says whether any input is missing.
func anyNil(in []*tensor.Dense) bool {
	for _, t := range in {
		if t == nil {
			return true
		}
	}
	return false
}

func (b *batchNorm) Forward(_ *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	x, scale, bias, mean, vr, c, inner, err := b.params(in)
	if err != nil {
		return nil, nil, err
	}
	y := make([]float32, len(x))
	for i := range y {
		ch := i / inner % c
		y[i] = scale[ch]*(x[i]-mean[ch])/float32(math.Sqrt(float64(vr[ch]+b.eps))) + bias[ch]
	}
	return []*tensor.Dense{NewF32(Shape(in[0]), y)}, nil, nil
}

// Backward gives the gradient of every input, the statistics treated as
// the constants they are in inference mode.
func (b *batchNorm) Backward(in, _, gradOut []*tensor.Dense, _ any) ([]*tensor.Dense, error) {
	if gradOut[0] == nil {
		return make([]*tensor.Dense, 5), nil
	}
	x, scale, _, mean, vr, c, inner, err := b.params(in)
	if err != nil {
		return nil, err
	}
	g := gradOut[0].Float32s()
	gx := make([]float32, len(x))
	gs, gb, gm, gv := make([]float32, c), make([]float32, c), make([]float32, c), make([]float32, c)
	for i := range x {
		ch := i / inner % c
		inv := 1 / float32(math.Sqrt(float64(vr[ch]+b.eps)))
		d := x[i] - mean[ch]
		gx[i] = g[i] * scale[ch] * inv
		gs[ch] += g[i] * d * inv
		gb[ch] += g[i]
		gm[ch] -= g[i] * scale[ch] * inv
		gv[ch] += g[i] * scale[ch] * d * -0.5 * inv * inv * inv
	}
	shape := []int{c}
	return []*tensor.Dense{NewF32(Shape(in[0]), gx), NewF32(shape, gs), NewF32(shape, gb), NewF32(shape, gm), NewF32(shape, gv)}, nil
}
