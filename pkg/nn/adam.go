package nn

import (
	"fmt"
	"math"
)

// Adam is the Adam optimizer (Kingma and Ba, 2015) over float32 parameter
// slices, with optional L2 weight decay added to the gradient as PyTorch's
// Adam does. It keeps the moment estimates of each parameter between
// steps, so the same parameters must come in the same order every step.
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	// WeightDecay adds WeightDecay·p to each gradient; 0 turns it off.
	WeightDecay float64

	t    int
	m, v [][]float32
}

// NewAdam returns Adam with the usual defaults: beta1 0.9, beta2 0.999,
// eps 1e-8, no weight decay.
func NewAdam(lr float64) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
}

// Step updates params in place from grads (grads[i] belongs to params[i]).
func (a *Adam) Step(params, grads [][]float32) error {
	if len(params) != len(grads) {
		return fmt.Errorf("adam: %d parameters, %d gradients", len(params), len(grads))
	}
	for i, p := range params {
		if len(grads[i]) != len(p) {
			return fmt.Errorf("adam: parameter %d has %d values, gradient %d", i, len(p), len(grads[i]))
		}
	}
	if a.m == nil {
		a.m, a.v = make([][]float32, len(params)), make([][]float32, len(params))
		for i, p := range params {
			a.m[i], a.v[i] = make([]float32, len(p)), make([]float32, len(p))
		}
	}
	if len(a.m) != len(params) {
		return fmt.Errorf("adam: %d parameters, state for %d", len(params), len(a.m))
	}
	for i, p := range params {
		if len(a.m[i]) != len(p) {
			return fmt.Errorf("adam: parameter %d has %d values, state %d", i, len(p), len(a.m[i]))
		}
	}
	a.t++
	// bias corrections folded into the step size
	c1 := 1 - math.Pow(a.Beta1, float64(a.t))
	c2 := 1 - math.Pow(a.Beta2, float64(a.t))
	for i, p := range params {
		m, v, g := a.m[i], a.v[i], grads[i]
		for j := range p {
			gj := float64(g[j]) + a.WeightDecay*float64(p[j])
			mj := a.Beta1*float64(m[j]) + (1-a.Beta1)*gj
			vj := a.Beta2*float64(v[j]) + (1-a.Beta2)*gj*gj
			m[j], v[j] = float32(mj), float32(vj)
			p[j] -= float32(a.LR * (mj / c1) / (math.Sqrt(vj/c2) + a.Eps))
		}
	}
	return nil
}
