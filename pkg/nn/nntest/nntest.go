// Package nntest holds what tests of the kernels and of the engine share
// when they check gradients.
package nntest

// CentralDifference estimates dL/dx[i] as (L(x+eps) - L(x-eps)) / 2eps,
// nudging x[i] in place and restoring it; loss recomputes L from x.
func CentralDifference(x []float32, i int, eps float32, loss func() float64) float64 {
	orig := x[i]
	x[i] = orig + eps
	up := loss()
	x[i] = orig - eps
	down := loss()
	x[i] = orig
	return (up - down) / (2 * float64(eps))
}
