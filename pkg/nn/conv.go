package nn

import (
	"fmt"
	"slices"

	"gorgonia.org/tensor"
)

// conv is ONNX Conv over any number of spatial axes: im2col and one gemm per
// sample and group. Port-occupancy inputs are mostly zeros, so columns of the
// unfolded input that are all zero are skipped: their output is exactly the
// bias, and leaving them out of the gemm changes no other value.
type conv struct {
	win   windowAttrs
	group int
}

var _ Differentiable = (*conv)(nil)

func newConv(_ int, a Attrs) (Op, error) {
	if err := a.Check("Conv", "auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"); err != nil {
		return nil, err
	}
	w, err := parseWindowAttrs("Conv", a)
	if err != nil {
		return nil, err
	}
	g, err := a.Int("group", 1)
	if err != nil {
		return nil, fmt.Errorf("Conv: %w", err)
	}
	if g < 1 {
		return nil, fmt.Errorf("Conv: group %d, want at least 1", g)
	}
	return &conv{win: w, group: int(g)}, nil
}

// convCall is one call's shapes, data and scratch buffers.
type convCall struct {
	x, w, b    []float32 // b nil without bias
	n, c, m    int       // batch, input and output channels
	cg, mg, k  int       // channels in and out per group, im2col rows
	win        *window
	col        []float32 // im2col matrix, k rows by up to nOut columns
	part       []float32 // gemm output for the live columns only
	live       []bool
	cols       []int32
	inv, invAt []int32 // output positions reading each input position
}

func (o *conv) setup(in []*tensor.Dense) (*convCall, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("Conv: want inputs X and W")
	}
	var err error
	c := &convCall{}
	if c.x, err = F32(in[0]); err != nil {
		return nil, &UnsupportedError{Op: "Conv", Reason: fmt.Sprintf("X: %v", err)}
	}
	if c.w, err = F32(in[1]); err != nil {
		return nil, &UnsupportedError{Op: "Conv", Reason: fmt.Sprintf("W: %v", err)}
	}
	xs, ws := Shape(in[0]), Shape(in[1])
	if len(xs) < 3 || len(ws) != len(xs) {
		return nil, fmt.Errorf("Conv: X shape %v and W shape %v: want [N,C,spatial...] and [M,C/group,kernel...]", xs, ws)
	}
	c.n, c.c, c.m = xs[0], xs[1], ws[0]
	if c.c%o.group != 0 || c.m%o.group != 0 || ws[1]*o.group != c.c {
		return nil, fmt.Errorf("Conv: X shape %v, W shape %v and group %d do not agree", xs, ws, o.group)
	}
	c.cg, c.mg = c.c/o.group, c.m/o.group
	if len(in) > 2 && in[2] != nil {
		if c.b, err = F32(in[2]); err != nil {
			return nil, &UnsupportedError{Op: "Conv", Reason: fmt.Sprintf("B: %v", err)}
		}
		if bs := Shape(in[2]); len(bs) != 1 || bs[0] != c.m {
			return nil, fmt.Errorf("Conv: B shape %v, want [%d]", bs, c.m)
		}
	}
	if c.win, err = o.win.geometry("Conv", xs[2:], ws[2:]); err != nil {
		return nil, err
	}
	c.k = c.cg * c.win.nTaps
	c.col = make([]float32, c.k*c.win.nOut)
	c.part = make([]float32, c.mg*c.win.nOut)
	c.live = make([]bool, c.win.nOut)
	c.cols = make([]int32, 0, c.win.nOut)
	return c, nil
}

func (o *conv) Forward(_ *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	y, c, err := o.forward(in, true)
	if err != nil {
		return nil, nil, err
	}
	return []*tensor.Dense{NewF32(append([]int{c.n, c.m}, c.win.out...), y)}, nil, nil
}

// forward runs the convolution; sparse allows skipping all-zero columns
// (tests turn it off to compare both paths).
func (o *conv) forward(in []*tensor.Dense, sparse bool) ([]float32, *convCall, error) {
	c, err := o.setup(in)
	if err != nil {
		return nil, nil, err
	}
	nOut := c.win.nOut
	y := make([]float32, c.n*c.m*nOut)
	for n := range c.n {
		for g := range o.group {
			cols := c.unfold(n, g, sparse)
			yg := y[(n*c.m+g*c.mg)*nOut:][:c.mg*nOut]
			wg := c.w[g*c.mg*c.k:][:c.mg*c.k]
			for m := range c.mg {
				fillBias(yg[m*nOut:][:nOut], c.bias(g*c.mg+m))
			}
			if cols == nil {
				gemm(false, false, c.mg, nOut, c.k, 1, wg, c.col, 1, yg)
				continue
			}
			nl := len(cols)
			part := c.part[:c.mg*nl]
			for m := range c.mg {
				fillBias(part[m*nl:][:nl], c.bias(g*c.mg+m))
			}
			gemm(false, false, c.mg, nl, c.k, 1, wg, c.col[:c.k*nl], 1, part)
			for m := range c.mg {
				row, src := yg[m*nOut:][:nOut], part[m*nl:][:nl]
				for j, q := range cols {
					row[q] = src[j]
				}
			}
		}
	}
	return y, c, nil
}

func (c *convCall) bias(m int) float32 {
	if c.b == nil {
		return 0
	}
	return c.b[m]
}

func fillBias(row []float32, v float32) {
	for i := range row {
		row[i] = v
	}
}

// unfold writes sample n, group g's im2col matrix into c.col. With sparse
// set and at most half of the columns live, only the live columns are
// written, compacted, and their output positions returned; otherwise every
// column is written and nil returned.
func (c *convCall) unfold(n, g int, sparse bool) []int32 {
	w := c.win
	xg := c.x[(n*c.c+g*c.cg)*w.inSize:][:c.cg*w.inSize]
	if sparse {
		if cols := c.liveColumns(xg); cols != nil {
			w.im2col(xg, c.cg, cols, c.col[:c.k*len(cols)])
			return cols
		}
	}
	w.im2col(xg, c.cg, nil, c.col)
	return nil
}

// liveColumns lists the output positions whose window reads a non-zero
// input, or returns nil once more than half are live (dense is cheaper).
// The cost is proportional to the non-zero inputs, not to the window.
func (c *convCall) liveColumns(xg []float32) []int32 {
	w := c.win
	if c.inv == nil {
		c.invAt, c.inv = w.inverse()
	}
	clear(c.live)
	cols := c.cols[:0]
	for ch := range c.cg {
		for p, v := range xg[ch*w.inSize:][:w.inSize] {
			if v == 0 {
				continue
			}
			for _, q := range c.inv[c.invAt[p]:c.invAt[p+1]] {
				if !c.live[q] {
					c.live[q] = true
					cols = append(cols, q)
				}
			}
			if 2*len(cols) > w.nOut {
				return nil
			}
		}
	}
	// Ascending order keeps the scatter and the im2col reads sequential.
	slices.Sort(cols)
	c.cols = cols
	return cols
}

func (o *conv) Backward(in, _, gradOut []*tensor.Dense, _ any) ([]*tensor.Dense, error) {
	c, err := o.setup(in)
	if err != nil {
		return nil, err
	}
	nOut := c.win.nOut
	if len(gradOut) < 1 || gradOut[0] == nil {
		return nil, fmt.Errorf("Conv backward: no gradient for Y")
	}
	gy, err := F32(gradOut[0])
	if err != nil || len(gy) != c.n*c.m*nOut {
		return nil, fmt.Errorf("Conv backward: gradient of Y has shape %v, want %v", Shape(gradOut[0]), append([]int{c.n, c.m}, c.win.out...))
	}
	dx := make([]float32, len(c.x))
	dw := make([]float32, len(c.w))
	var db []float32
	if c.b != nil {
		db = make([]float32, c.m)
	}
	dcol := make([]float32, c.k*nOut)
	for n := range c.n {
		for g := range o.group {
			dyg := gy[(n*c.m+g*c.mg)*nOut:][:c.mg*nOut]
			wg := c.w[g*c.mg*c.k:][:c.mg*c.k]
			dwg := dw[g*c.mg*c.k:][:c.mg*c.k]
			if db != nil {
				for m := range c.mg {
					for _, v := range dyg[m*nOut:][:nOut] {
						db[g*c.mg+m] += v
					}
				}
			}
			// dW += dY·colᵀ; all-zero columns add nothing, so the
			// sparse path multiplies the live columns of dY only.
			if cols := c.unfold(n, g, true); cols == nil {
				gemm(false, true, c.mg, c.k, nOut, 1, dyg, c.col, 1, dwg)
			} else {
				nl := len(cols)
				part := c.part[:c.mg*nl]
				for m := range c.mg {
					row := dyg[m*nOut:][:nOut]
					for j, q := range cols {
						part[m*nl+j] = row[q]
					}
				}
				gemm(false, true, c.mg, c.k, nl, 1, part, c.col[:c.k*nl], 1, dwg)
			}
			// dX = col2im(Wᵀ·dY).
			gemm(true, false, c.k, nOut, c.mg, 1, wg, dyg, 0, dcol)
			c.win.col2im(dcol, c.cg, dx[(n*c.c+g*c.cg)*c.win.inSize:][:c.cg*c.win.inSize])
		}
	}
	grads := []*tensor.Dense{NewF32(Shape(in[0]), dx), NewF32(Shape(in[1]), dw), nil}
	if db != nil {
		grads[2] = NewF32([]int{c.m}, db)
	}
	return grads[:len(in)], nil
}
