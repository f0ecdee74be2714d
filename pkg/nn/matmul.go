package nn

import (
	"fmt"

	"gorgonia.org/tensor"
)

// matmul is numpy's matmul: 1-D operands are promoted to a row (A) or a
// column (B) and the promoted axis is dropped from the output; leading
// axes broadcast as batches.
type matmul struct{}

var _ Differentiable = matmul{}

func newMatMul(_ int, a Attrs) (Op, error) {
	return matmul{}, a.Check("MatMul")
}

// mmPlan is one MatMul's geometry: per batch element an m×k by k×n product,
// with the walker giving the output, A and B offsets of each batch element.
type mmPlan struct {
	m, n, k int
	out     []int
	batch   *walker
}

func (matmul) plan(in []*tensor.Dense) (*mmPlan, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("MatMul: want 2 inputs")
	}
	if in[0].Dtype() != tensor.Float32 || in[1].Dtype() != tensor.Float32 {
		return nil, &UnsupportedError{Op: "MatMul", Reason: fmt.Sprintf("input types %v, %v (want float32)", in[0].Dtype(), in[1].Dtype())}
	}
	sa, sb := Shape(in[0]), Shape(in[1])
	if len(sa) == 0 || len(sb) == 0 {
		return nil, fmt.Errorf("MatMul: scalar operand (shapes %v, %v)", sa, sb)
	}
	var out []int
	if len(sa) == 1 {
		sa = []int{1, sa[0]}
	} else {
		out = append(out, sa[len(sa)-2])
	}
	if len(sb) == 1 {
		sb = []int{sb[0], 1}
	} else {
		out = append(out, sb[len(sb)-1])
	}
	p := &mmPlan{m: sa[len(sa)-2], k: sa[len(sa)-1], n: sb[len(sb)-1]}
	if kb := sb[len(sb)-2]; kb != p.k {
		return nil, fmt.Errorf("MatMul: inner dimensions differ: %v and %v", Shape(in[0]), Shape(in[1]))
	}
	ba, bb := sa[:len(sa)-2], sb[:len(sb)-2]
	batch, err := broadcastShape(ba, bb)
	if err != nil {
		return nil, fmt.Errorf("MatMul: batch axes: %w", err)
	}
	p.out = append(append([]int(nil), batch...), out...)
	if err := checkSize(p.out); err != nil {
		return nil, fmt.Errorf("MatMul: output: %w", err)
	}
	if len(bb) == 0 {
		// B is one matrix: A's batches stack into one taller product.
		p.m *= Size(ba)
		batch, ba = nil, nil
	}
	sc := func(s []int, by int) []int {
		for i := range s {
			s[i] *= by
		}
		return s
	}
	p.batch = newWalker(batch, sc(strides(batch), p.m*p.n), sc(bstrides(ba, batch), p.m*p.k), sc(bstrides(bb, batch), p.k*p.n))
	return p, nil
}

func (mm matmul) Forward(_ *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	p, err := mm.plan(in)
	if err != nil {
		return nil, nil, err
	}
	y := ZerosF32(p.out...)
	a, b, yv := in[0].Float32s(), in[1].Float32s(), y.Float32s()
	p.batch.each([]int{0, 0, 0}, func(off []int) {
		gemm(false, false, p.m, p.n, p.k, 1, a[off[1]:], b[off[2]:], 0, yv[off[0]:])
	})
	return []*tensor.Dense{y}, nil, nil
}

// Backward accumulates per batch element, which also sums the gradient
// over batch axes an operand was broadcast along.
func (mm matmul) Backward(in, _, gradOut []*tensor.Dense, _ any) ([]*tensor.Dense, error) {
	if gradOut[0] == nil {
		return make([]*tensor.Dense, 2), nil
	}
	p, err := mm.plan(in)
	if err != nil {
		return nil, err
	}
	da, db := ZerosF32(Shape(in[0])...), ZerosF32(Shape(in[1])...)
	a, b, g := in[0].Float32s(), in[1].Float32s(), gradOut[0].Float32s()
	dav, dbv := da.Float32s(), db.Float32s()
	p.batch.each([]int{0, 0, 0}, func(off []int) {
		productGrads(false, false, p.m, p.n, p.k, 1, a[off[1]:], b[off[2]:], g[off[0]:], dav[off[1]:], dbv[off[2]:])
	})
	return []*tensor.Dense{da, db}, nil
}
