package nn

import (
	"fmt"

	"gorgonia.org/tensor"
)

// gather picks entries along axis: out[o..., i..., n...] =
// data[o..., indices[i...], n...]. Each index is one strided copy of an
// [outer, inner] block.
type gather struct {
	axis int64
}

var _ Differentiable = (*gather)(nil)

func newGather(_ int, a Attrs) (Op, error) {
	if err := a.Check("Gather", "axis"); err != nil {
		return nil, err
	}
	axis, err := a.Int("axis", 0)
	if err != nil {
		return nil, fmt.Errorf("Gather: %w", err)
	}
	return &gather{axis: axis}, nil
}

// gatherPlan is the output shape, the indices (checked), and the walkers
// over one block: operands (output, data) forward and (data, output)
// backward.
type gatherPlan struct {
	out         []int
	idx         []int64 // block j starts at j*inner in the output and at src(j) in the data
	d           int64   // the size of axis
	inner       int
	flat        bool // one block is inner contiguous entries (nothing before axis)
	block, back *walker
}

// src returns the data offset of block j.
func (p *gatherPlan) src(j int) int {
	v := p.idx[j]
	if v < 0 {
		v += p.d
	}
	return int(v) * p.inner
}

func (g *gather) plan(in []*tensor.Dense) (*gatherPlan, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("Gather: want inputs data and indices")
	}
	x := Shape(in[0])
	axis, err := normAxis(g.axis, len(x))
	if err != nil {
		return nil, fmt.Errorf("Gather: %w", err)
	}
	idx, err := intsInput(in, 1, "indices")
	if err != nil {
		return nil, fmt.Errorf("Gather: %w", err)
	}
	d := int64(x[axis])
	// The indices are the input's own backing, not a copy: a lookup of
	// one entry per cell (portae v2) has millions of them.
	p := &gatherPlan{inner: Size(x[axis+1:]), idx: idx, d: d}
	for _, v := range idx {
		if v < -d || v >= d {
			return nil, fmt.Errorf("Gather: index %d out of range for axis %d of size %d", v, axis, d)
		}
	}
	p.out = append(append(append([]int(nil), x[:axis]...), Shape(in[1])...), x[axis+1:]...)
	if err := checkSize(p.out); err != nil {
		return nil, fmt.Errorf("Gather: output: %w", err)
	}
	block := []int{Size(x[:axis]), p.inner}
	p.flat = block[0] == 1
	outStr, dataStr := []int{len(idx) * p.inner, 1}, []int{int(d) * p.inner, 1}
	p.block, p.back = newWalker(block, outStr, dataStr), newWalker(block, dataStr, outStr)
	return p, nil
}

func (g *gather) Forward(_ *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	p, err := g.plan(in)
	if err != nil {
		return nil, nil, err
	}
	out := newDense(in[0].Dtype(), p.out)
	// A lookup table's rows (portae v2's offsets: one entry per cell) are
	// copied directly: the walker's per-block setup costs more than a row.
	if d, ok := backing(out).([]float32); ok && p.flat {
		x := in[0].Float32s()
		for j := range p.idx {
			s := p.src(j)
			copy(d[j*p.inner:(j+1)*p.inner], x[s:s+p.inner])
		}
		return []*tensor.Dense{out}, nil, nil
	}
	for j := range p.idx {
		if err := moveData(out, in[0], p.block, j*p.inner, p.src(j)); err != nil {
			return nil, nil, &UnsupportedError{Op: "Gather", Reason: err.Error()}
		}
	}
	return []*tensor.Dense{out}, nil, nil
}

// Backward scatter-adds each block back: an index that appears twice
// collects both gradients.
func (g *gather) Backward(in, _, gradOut []*tensor.Dense, _ any) ([]*tensor.Dense, error) {
	if gradOut[0] == nil {
		return make([]*tensor.Dense, 2), nil
	}
	p, err := g.plan(in)
	if err != nil {
		return nil, err
	}
	dx := ZerosF32(Shape(in[0])...)
	gy := gradOut[0].Float32s()
	if p.flat {
		d := dx.Float32s()
		for j := range p.idx {
			s := p.src(j)
			for k, g := range gy[j*p.inner : (j+1)*p.inner] {
				d[s+k] += g
			}
		}
		return []*tensor.Dense{dx, nil}, nil
	}
	for j := range p.idx {
		addStrided(dx.Float32s(), gy, p.back, p.src(j), j*p.inner)
	}
	return []*tensor.Dense{dx, nil}, nil
}
