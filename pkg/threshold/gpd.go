package threshold

import "math"

// gridPoints is how finely each side of Grimshaw's equation is scanned for
// sign changes before bisection; roots closer than one step apart are missed,
// which only costs a candidate, never a wrong answer (the exponential fit is
// always a candidate).
const gridPoints = 200

// fitGPD fits a generalized Pareto distribution to the excesses y (all > 0)
// by maximum likelihood, with Grimshaw's reduction (Grimshaw 1993, as used in
// SPOT): the likelihood's stationary points are the roots x of
// w(x) = u(x)·v(x) - 1, u(x) = mean(1/(1+x·y)), v(x) = 1 + mean(ln(1+x·y)),
// each giving γ = v(x) - 1 and σ = γ/x. The exponential (γ = 0, σ = mean) is
// always a candidate, and so is the method-of-moments fit, which covers short
// tails (γ near -1) where the likelihood's maximum sits on the boundary and
// Grimshaw's equation has no root; the candidate with the largest likelihood wins.
// ok is false when y is too small or degenerate (all equal) to fit.
func fitGPD(y []float64) (gamma, sigma float64, ok bool) {
	if len(y) < 2 {
		return 0, 0, false
	}
	ymin, ymax, mean := y[0], y[0], 0.0
	for _, v := range y {
		ymin, ymax = min(ymin, v), max(ymax, v)
		mean += v
	}
	mean /= float64(len(y))
	if !(ymin > 0) || ymax-ymin <= 1e-12*ymax {
		return 0, 0, false
	}
	w := func(x float64) float64 {
		var u, v float64
		for _, yi := range y {
			u += 1 / (1 + x*yi)
			v += math.Log1p(x * yi)
		}
		n := float64(len(y))
		return (u/n)*(1+v/n) - 1
	}
	bestG, bestS, bestL := 0.0, mean, logLik(y, 0, mean)
	try := func(g, s float64) {
		if s > 0 {
			if l := logLik(y, g, s); l > bestL {
				bestG, bestS, bestL = g, s, l
			}
		}
	}
	var ss float64
	for _, v := range y {
		ss += (v - mean) * (v - mean)
	}
	r := mean * mean / (ss / float64(len(y))) // ymax > ymin, so ss > 0
	try(0.5*(1-r), 0.5*mean*(r+1))
	tiny := 1e-8 / ymax
	for _, x := range roots(w, -tiny, -(1-1e-8)/ymax) {
		g := meanLog1p(y, x)
		try(g, g/x)
	}
	if hi := 2 * (mean - ymin) / (mean * ymin); hi > tiny {
		for _, x := range roots(w, tiny, hi) {
			g := meanLog1p(y, x)
			try(g, g/x)
		}
	}
	return bestG, bestS, true
}

// meanLog1p is v(x) - 1 = mean(ln(1 + x·y)), Grimshaw's γ for root x.
func meanLog1p(y []float64, x float64) float64 {
	var s float64
	for _, yi := range y {
		s += math.Log1p(x * yi)
	}
	return s / float64(len(y))
}

// logLik is the GPD log-likelihood of y; -Inf outside the support.
func logLik(y []float64, gamma, sigma float64) float64 {
	n := float64(len(y))
	if math.Abs(gamma) < 1e-12 {
		var s float64
		for _, yi := range y {
			s += yi
		}
		return -n*math.Log(sigma) - s/sigma
	}
	var s float64
	for _, yi := range y {
		z := 1 + gamma*yi/sigma
		if z <= 0 {
			return math.Inf(-1)
		}
		s += math.Log(z)
	}
	return -n*math.Log(sigma) - (1+1/gamma)*s
}

// roots finds the sign changes of f between a and b (same sign, |a| < |b|)
// on a grid geometric in |x|, since roots crowd near zero, and bisects each.
func roots(f func(float64) float64, a, b float64) []float64 {
	var out []float64
	ratio := math.Pow(b/a, 1/float64(gridPoints-1))
	x0, f0 := a, f(a)
	for i := 1; i < gridPoints; i++ {
		x1 := a * math.Pow(ratio, float64(i))
		f1 := f(x1)
		if f0 == 0 {
			out = append(out, x0)
		} else if f0*f1 < 0 {
			out = append(out, bisect(f, x0, x1, f0))
		}
		x0, f0 = x1, f1
	}
	return out
}

func bisect(f func(float64) float64, lo, hi, flo float64) float64 {
	for range 60 {
		mid := (lo + hi) / 2
		fm := f(mid)
		if fm == 0 {
			return mid
		}
		if (fm < 0) == (flo < 0) {
			lo, flo = mid, fm
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}
