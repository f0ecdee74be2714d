package nn

import (
	"fmt"
	"slices"

	"gorgonia.org/tensor"
)

// gemmOp is Y = alpha·op(A)·op(B) + beta·C with C optional and
// unidirectionally broadcast to [M, N].
type gemmOp struct {
	alpha, beta    float32
	transA, transB bool
	// strictC: opset < 7 without broadcast=1, where C must be [M, N].
	strictC bool
}

var _ Differentiable = (*gemmOp)(nil)

func newGemm(opset int, a Attrs) (Op, error) {
	known := []string{"alpha", "beta", "transA", "transB"}
	if opset < 7 {
		known = append(known, "broadcast")
	}
	if err := a.Check("Gemm", known...); err != nil {
		return nil, err
	}
	g := &gemmOp{}
	var err error
	if g.alpha, err = a.Float("alpha", 1); err != nil {
		return nil, fmt.Errorf("Gemm: %w", err)
	}
	if g.beta, err = a.Float("beta", 1); err != nil {
		return nil, fmt.Errorf("Gemm: %w", err)
	}
	ta, err := a.Int("transA", 0)
	if err != nil {
		return nil, fmt.Errorf("Gemm: %w", err)
	}
	tb, err := a.Int("transB", 0)
	if err != nil {
		return nil, fmt.Errorf("Gemm: %w", err)
	}
	bc, err := a.Int("broadcast", 0)
	if err != nil {
		return nil, fmt.Errorf("Gemm: %w", err)
	}
	g.transA, g.transB, g.strictC = ta != 0, tb != 0, opset < 7 && bc == 0
	return g, nil
}

// dims checks the inputs and returns M, N, K.
func (g *gemmOp) dims(in []*tensor.Dense) (m, n, k int, err error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return 0, 0, 0, fmt.Errorf("Gemm: want inputs A and B")
	}
	for _, t := range in {
		if t != nil && t.Dtype() != tensor.Float32 {
			return 0, 0, 0, &UnsupportedError{Op: "Gemm", Reason: fmt.Sprintf("input type %v (want float32)", t.Dtype())}
		}
	}
	sa, sb := Shape(in[0]), Shape(in[1])
	if len(sa) != 2 || len(sb) != 2 {
		return 0, 0, 0, fmt.Errorf("Gemm: A %v and B %v must be matrices", sa, sb)
	}
	m, k = sa[0], sa[1]
	if g.transA {
		m, k = k, m
	}
	kb, n := sb[0], sb[1]
	if g.transB {
		kb, n = n, kb
	}
	if k != kb {
		return 0, 0, 0, fmt.Errorf("Gemm: inner dimensions differ: op(A) is [%d %d], op(B) [%d %d]", m, k, kb, n)
	}
	if err := checkSize([]int{m, n}); err != nil {
		return 0, 0, 0, fmt.Errorf("Gemm: output: %w", err)
	}
	if len(in) > 2 && in[2] != nil {
		sc := Shape(in[2])
		bs, err := broadcastShape(sc, []int{m, n})
		if err != nil || !slices.Equal(bs, []int{m, n}) || g.strictC && !slices.Equal(sc, bs) {
			return 0, 0, 0, fmt.Errorf("Gemm: C %v does not broadcast to [%d %d]", sc, m, n)
		}
	}
	return m, n, k, nil
}

func (g *gemmOp) Forward(p *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	m, n, k, err := g.dims(in)
	if err != nil {
		return nil, nil, err
	}
	y := NewF32([]int{m, n}, p.Floats(m*n))
	a, b, yd := in[0].Float32s(), in[1].Float32s(), y.Float32s()
	if len(in) < 3 || in[2] == nil || g.beta == 0 {
		gemm(g.transA, g.transB, m, n, k, g.alpha, a, b, 0, yd)
		return []*tensor.Dense{y}, nil, nil
	}
	sc, so := Shape(in[2]), []int{m, n}
	if len(sc) == 0 || sc[len(sc)-1] != n || Size(sc) != n || n < m {
		copyStrided(yd, in[2].Float32s(), newWalker(so, strides(so), bstrides(sc, so)), 0, 0)
		gemm(g.transA, g.transB, m, n, k, g.alpha, a, b, g.beta, yd)
		return []*tensor.Dense{y}, nil, nil
	}
	// A bias row (the usual case, and the wide output layer) is laid into
	// one panel of columns at a time, just before the product adds to it,
	// so each panel of Y crosses memory once; panels go to the CPUs.
	bias := in[2].Float32s()
	panel := max(16, gemmPanel/m/16*16) // whole micro-tiles
	lda, ldb := k, n
	if g.transA {
		lda = m
	}
	if g.transB {
		ldb = k
	}
	parallel(m*n, func(lo, hi int) {
		var scratch gemmScratch
		lo, hi = (lo/m+panel-1)/panel*panel, min(n, (hi/m+panel-1)/panel*panel)
		for j := lo; j < hi; j += panel {
			nb := min(panel, n-j)
			for i := range m {
				copy(yd[i*n+j:][:nb], bias[j:j+nb])
			}
			bj := b[j:]
			if g.transB {
				bj = b[j*k:]
			}
			gemmStrided(g.transA, g.transB, m, nb, k, g.alpha, a, lda, bj, ldb, g.beta, yd[j:], n, &scratch)
		}
	})
	return []*tensor.Dense{y}, nil, nil
}

// gemmPanel is the values of Y per panel: a quarter of a typical L2.
const gemmPanel = 1 << 16

func (g *gemmOp) Backward(in, _, gradOut []*tensor.Dense, _ any) ([]*tensor.Dense, error) {
	gradIn := make([]*tensor.Dense, len(in))
	if gradOut[0] == nil {
		return gradIn, nil
	}
	m, n, k, err := g.dims(in)
	if err != nil {
		return nil, err
	}
	gy := gradOut[0].Float32s()
	da, db := ZerosF32(Shape(in[0])...), ZerosF32(Shape(in[1])...)
	productGrads(g.transA, g.transB, m, n, k, g.alpha, in[0].Float32s(), in[1].Float32s(), gy, da.Float32s(), db.Float32s())
	gradIn[0], gradIn[1] = da, db
	if len(in) > 2 && in[2] != nil {
		dc := reduceTo(gy, []int{m, n}, Shape(in[2]))
		for i := range dc.Float32s() {
			dc.Float32s()[i] *= g.beta
		}
		gradIn[2] = dc
	}
	return gradIn, nil
}

// productGrads adds the gradients of Y = alpha·op(A)·op(B) (op(A) m×k, op(B)
// k×n) for the output gradient gy into da and db, each in its operand's own
// layout.
func productGrads(transA, transB bool, m, n, k int, alpha float32, a, b, gy, da, db []float32) {
	if transA {
		gemm(transB, true, k, m, n, alpha, b, gy, 1, da) // (G·op(B)ᵀ)ᵀ
	} else {
		gemm(false, !transB, m, k, n, alpha, gy, b, 1, da) // G·op(B)ᵀ
	}
	if transB {
		gemm(true, transA, n, k, m, alpha, gy, a, 1, db) // (op(A)ᵀ·G)ᵀ
	} else {
		gemm(!transA, false, k, n, m, alpha, a, gy, 1, db) // op(A)ᵀ·G
	}
}
