package nn

import (
	"fmt"
	"math"
	"slices"

	"gorgonia.org/tensor"
)

// bceEps keeps BCE's logarithms finite: predictions are clamped to
// [bceEps, 1-bceEps], as Keras does with its epsilon.
const bceEps = 1e-7

// pair checks that pred and target are float32 tensors of one shape.
func pair(name string, pred, target *tensor.Dense) (p, t []float32, err error) {
	if !slices.Equal(Shape(pred), Shape(target)) {
		return nil, nil, fmt.Errorf("%s: prediction %v and target %v differ in shape", name, Shape(pred), Shape(target))
	}
	if p, err = F32(pred); err != nil {
		return nil, nil, fmt.Errorf("%s: prediction: %w", name, err)
	}
	if t, err = F32(target); err != nil {
		return nil, nil, fmt.Errorf("%s: target: %w", name, err)
	}
	return p, t, nil
}

// MSE returns the mean over all elements of (pred-target)² and its
// gradient with respect to pred.
func MSE(pred, target *tensor.Dense) (float64, *tensor.Dense, error) {
	return meanLoss("mse", pred, target, func(p, t float64) (float64, float64) {
		return (p - t) * (p - t), 2 * (p - t)
	})
}

// BCE returns the mean binary cross-entropy -[t·ln p + (1-t)·ln(1-p)] with p
// clamped to [1e-7, 1-1e-7], and its gradient with respect to pred (zero
// where the clamp holds p).
func BCE(pred, target *tensor.Dense) (float64, *tensor.Dense, error) {
	return meanLoss("bce", pred, target, func(p, t float64) (float64, float64) {
		c := min(max(p, bceEps), 1-bceEps)
		l := -(t*math.Log(c) + (1-t)*math.Log(1-c))
		if c != p {
			return l, 0
		}
		return l, (c - t) / (c * (1 - c))
	})
}

// meanLoss averages term over the elements; term gives one element's loss
// and its derivative with respect to the prediction.
func meanLoss(name string, pred, target *tensor.Dense, term func(p, t float64) (l, d float64)) (float64, *tensor.Dense, error) {
	p, t, err := pair(name, pred, target)
	if err != nil {
		return 0, nil, err
	}
	n := float64(len(p))
	g := make([]float32, len(p))
	var loss float64
	for i := range p {
		l, d := term(float64(p[i]), float64(t[i]))
		loss += l
		g[i] = float32(d / n)
	}
	return loss / n, NewF32(Shape(pred), g), nil
}

// SquaredError returns (pred-target)² element by element, the detector's
// reconstruction error per port and channel.
func SquaredError(pred, target *tensor.Dense) (*tensor.Dense, error) {
	p, t, err := pair("squared error", pred, target)
	if err != nil {
		return nil, err
	}
	e := make([]float32, len(p))
	for i := range p {
		d := p[i] - t[i]
		e[i] = d * d
	}
	return NewF32(Shape(pred), e), nil
}
