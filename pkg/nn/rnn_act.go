package nn

import (
	"fmt"
	"math"
	"strings"
)

// rnnAct is one of the activation functions the ONNX RNN ops name in their
// activations attribute, with its alpha and beta.
type rnnAct struct {
	name        string // lower case
	alpha, beta float32
}

// actParams says whether an activation takes alpha and beta and gives
// their defaults (those of the standalone ONNX ops of the same name); ok is
// false for names outside the spec's list.
func actParams(name string) (usesAlpha, usesBeta bool, alpha, beta float32, ok bool) {
	switch name {
	case "sigmoid", "tanh", "relu", "softsign", "softplus":
		return false, false, 0, 0, true
	case "leakyrelu":
		return true, false, 0.01, 0, true
	case "thresholdedrelu", "elu":
		return true, false, 1, 0, true
	case "hardsigmoid":
		return true, true, 0.2, 0.5, true
	case "affine":
		return true, true, 1, 0, true
	case "scaledtanh":
		return true, true, 1, 1, true
	}
	return false, false, 0, 0, false
}

// parseActs pairs activation names with alpha and beta values, which
// are consumed in order by the activations that take them.
func parseActs(op string, names []string, alphas, betas []float32) ([]rnnAct, error) {
	acts := make([]rnnAct, len(names))
	for i, n := range names {
		name := strings.ToLower(n)
		usesAlpha, usesBeta, alpha, beta, ok := actParams(name)
		if !ok {
			return nil, &UnsupportedError{Op: op, Reason: fmt.Sprintf("activation %q", n)}
		}
		acts[i] = rnnAct{name: name, alpha: alpha, beta: beta}
		if usesAlpha && len(alphas) > 0 {
			acts[i].alpha, alphas = alphas[0], alphas[1:]
		}
		if usesBeta && len(betas) > 0 {
			acts[i].beta, betas = betas[0], betas[1:]
		}
	}
	return acts, nil
}

// f applies the activation.
func (a rnnAct) f(x float32) float32 {
	switch a.name {
	case "sigmoid":
		return sigmoid(x)
	case "tanh":
		return float32(math.Tanh(float64(x)))
	case "relu":
		return max(x, 0)
	case "leakyrelu":
		if x >= 0 {
			return x
		}
		return a.alpha * x
	case "thresholdedrelu":
		if x >= a.alpha {
			return x
		}
		return 0
	case "elu":
		if x >= 0 {
			return x
		}
		return a.alpha * float32(math.Expm1(float64(x)))
	case "hardsigmoid":
		return min(max(a.alpha*x+a.beta, 0), 1)
	case "affine":
		return a.alpha*x + a.beta
	case "scaledtanh":
		return a.alpha * float32(math.Tanh(float64(a.beta*x)))
	case "softsign":
		return x / (1 + float32(math.Abs(float64(x))))
	default: // softplus
		return float32(math.Log1p(math.Exp(float64(x))))
	}
}

// df is the derivative at x, given y = f(x).
func (a rnnAct) df(x, y float32) float32 {
	switch a.name {
	case "sigmoid":
		return y * (1 - y)
	case "tanh":
		return 1 - y*y
	case "relu":
		return step01(x > 0, 1)
	case "leakyrelu":
		return step01(x >= 0, 1) + step01(x < 0, a.alpha)
	case "thresholdedrelu":
		return step01(x >= a.alpha, 1)
	case "elu":
		return step01(x >= 0, 1) + step01(x < 0, y+a.alpha)
	case "hardsigmoid":
		return step01(y > 0 && y < 1, a.alpha)
	case "affine":
		return a.alpha
	case "scaledtanh":
		t := y / a.alpha
		if a.alpha == 0 {
			t = float32(math.Tanh(float64(a.beta * x)))
		}
		return a.alpha * a.beta * (1 - t*t)
	case "softsign":
		d := 1 + float32(math.Abs(float64(x)))
		return 1 / (d * d)
	default: // softplus
		return sigmoid(x)
	}
}

func step01(cond bool, v float32) float32 {
	if cond {
		return v
	}
	return 0
}
