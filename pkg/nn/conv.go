package nn

import (
	"fmt"
	"math"
	"slices"

	"gorgonia.org/tensor"
)

// conv is ONNX Conv over any number of spatial axes: im2col and gemm per
// group, several samples' columns side by side in one gemm so that it stays
// large. Port-occupancy inputs are mostly zeros, so columns of the unfolded
// input that are all zero are skipped: their output is exactly the bias, and
// leaving them out of the gemm changes no other value.
type conv struct {
	win   windowAttrs
	group int
}

var _ PartialDifferentiable = (*conv)(nil)

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
	batch      int     // samples per gemm
	all        []int32 // every output position, the columns of a dense sample
	cols       []int32 // the columns of the samples in one gemm, side by side
	at         []int   // sample s's columns are cols[at[s]:at[s+1]]
	col        []float32
	part       []float32 // gemm output (or dY gathered) for those columns
	live       []bool
	inv, invAt []int32 // output positions reading each input position
}

// gemmColumns bounds the columns of one im2col matrix: large enough for the
// gemm to run at speed, small enough to stay a few MB.
const gemmColumns = 1 << 16

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
	nOut := c.win.nOut
	c.batch = max(1, min(c.n, gemmColumns/nOut))
	c.all = make([]int32, nOut)
	for q := range c.all {
		c.all[q] = int32(q)
	}
	c.cols = make([]int32, 0, c.batch*nOut)
	c.at = make([]int, c.batch+1)
	c.col = make([]float32, c.k*c.batch*nOut)
	c.part = make([]float32, c.mg*c.batch*nOut)
	c.live = make([]bool, nOut)
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
	for g := range o.group {
		wg := c.w[g*c.mg*c.k:][:c.mg*c.k]
		for n0 := 0; n0 < c.n; n0 += c.batch {
			n1 := min(n0+c.batch, c.n)
			ld := c.unfold(g, n0, n1, sparse)
			part := c.part[:c.mg*ld]
			for m := range c.mg {
				fillBias(part[m*ld:][:ld], c.bias(g*c.mg+m))
			}
			gemm(false, false, c.mg, ld, c.k, 1, wg, c.col[:c.k*ld], 1, part)
			for n := n0; n < n1; n++ {
				cols := c.cols[c.at[n-n0]:c.at[n-n0+1]]
				for m := range c.mg {
					row := y[(n*c.m+g*c.mg+m)*nOut:][:nOut]
					src := part[m*ld+c.at[n-n0]:][:len(cols)]
					if len(cols) == nOut {
						copy(row, src)
						continue
					}
					fillBias(row, c.bias(g*c.mg+m))
					for j, q := range cols {
						row[q] = src[j]
					}
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

// xg is sample n's input channels of group g.
func (c *convCall) xg(n, g int) []float32 {
	return c.x[(n*c.c+g*c.cg)*c.win.inSize:][:c.cg*c.win.inSize]
}

// unfold writes the im2col matrix of group g for samples n0..n1-1 into c.col,
// their columns side by side, and returns its row length. With sparse set a
// sample whose live columns are at most half contributes only those;
// otherwise all of its columns. c.cols and c.at say which are where.
func (c *convCall) unfold(g, n0, n1 int, sparse bool) int {
	c.cols = c.cols[:0]
	for n := n0; n < n1; n++ {
		c.at[n-n0] = len(c.cols)
		if !sparse || !c.appendLive(c.xg(n, g)) {
			c.cols = append(c.cols[:c.at[n-n0]], c.all...)
		}
	}
	ld := len(c.cols)
	c.at[n1-n0] = ld
	for n := n0; n < n1; n++ {
		c.win.im2col(c.xg(n, g), c.cg, c.cols[c.at[n-n0]:c.at[n-n0+1]], c.col[c.at[n-n0]:], ld)
	}
	return ld
}

// appendLive appends to c.cols, in ascending order, the output positions
// whose window reads a non-zero input of xg, and reports false (leaving a
// partial list) once more than half are live: then dense is cheaper. The
// cost is proportional to the non-zero inputs, not to the window.
func (c *convCall) appendLive(xg []float32) bool {
	w := c.win
	if c.inv == nil {
		c.invAt, c.inv = w.inverse()
	}
	clear(c.live)
	start := len(c.cols)
	mark := func(p int) bool {
		for _, q := range c.inv[c.invAt[p]:c.invAt[p+1]] {
			if !c.live[q] {
				c.live[q] = true
				c.cols = append(c.cols, q)
			}
		}
		return 2*(len(c.cols)-start) <= w.nOut
	}
	for ch := range c.cg {
		xc := xg[ch*w.inSize:][:w.inSize]
		p0 := 0
		for ; p0+8 <= len(xc); p0 += 8 {
			// One branch per eight inputs: OR their bits, sign aside.
			b := xc[p0 : p0+8 : p0+8]
			bits := math.Float32bits(b[0]) | math.Float32bits(b[1]) | math.Float32bits(b[2]) | math.Float32bits(b[3]) |
				math.Float32bits(b[4]) | math.Float32bits(b[5]) | math.Float32bits(b[6]) | math.Float32bits(b[7])
			if bits<<1 == 0 {
				continue
			}
			for k, v := range b {
				if v != 0 && !mark(p0+k) {
					return false
				}
			}
		}
		for p := p0; p < len(xc); p++ {
			if xc[p] != 0 && !mark(p) {
				return false
			}
		}
	}
	// Ascending order keeps the scatter and the im2col reads sequential.
	slices.Sort(c.cols[start:])
	return true
}

func (o *conv) Backward(in, out, gradOut []*tensor.Dense, saved any) ([]*tensor.Dense, error) {
	return o.BackwardFor(nil, in, out, gradOut, saved)
}

// BackwardFor skips dX when need says so: it is as large as X and the
// costliest part of the pass (every column, not only the live ones).
func (o *conv) BackwardFor(need []bool, in, _, gradOut []*tensor.Dense, _ any) ([]*tensor.Dense, error) {
	needX := need == nil || need[0]
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
	var dx []float32
	if needX {
		dx = make([]float32, len(c.x))
	}
	dw := make([]float32, len(c.w))
	var db []float32
	if c.b != nil {
		db = make([]float32, c.m)
		for i, v := range gy {
			db[i/nOut%c.m] += v
		}
	}
	// gather lays the gradient of Y at the columns c.unfold chose into
	// c.part, in the same order as c.col.
	gather := func(g, n0, n1, ld int) []float32 {
		part := c.part[:c.mg*ld]
		for n := n0; n < n1; n++ {
			cols := c.cols[c.at[n-n0]:c.at[n-n0+1]]
			for m := range c.mg {
				row := gy[(n*c.m+g*c.mg+m)*nOut:][:nOut]
				dst := part[m*ld+c.at[n-n0]:][:len(cols)]
				for j, q := range cols {
					dst[j] = row[q]
				}
			}
		}
		return part
	}
	for g := range o.group {
		wg := c.w[g*c.mg*c.k:][:c.mg*c.k]
		dwg := dw[g*c.mg*c.k:][:c.mg*c.k]
		for n0 := 0; n0 < c.n; n0 += c.batch {
			n1 := min(n0+c.batch, c.n)
			// dW += dY·colᵀ: all-zero columns add nothing.
			ld := c.unfold(g, n0, n1, true)
			gemm(false, true, c.mg, c.k, ld, 1, gather(g, n0, n1, ld), c.col[:c.k*ld], 1, dwg)
			if !needX {
				continue
			}
			// dX = col2im(Wᵀ·dY), over every column: zero inputs still
			// have a gradient.
			c.cols = c.cols[:0]
			for n := n0; n < n1; n++ {
				c.at[n-n0] = len(c.cols)
				c.cols = append(c.cols, c.all...)
			}
			ld = len(c.cols)
			c.at[n1-n0] = ld
			gemm(true, false, c.k, ld, c.mg, 1, wg, gather(g, n0, n1, ld), 0, c.col[:c.k*ld])
			for n := n0; n < n1; n++ {
				dxg := dx[(n*c.c+g*c.cg)*c.win.inSize:][:c.cg*c.win.inSize]
				c.win.col2im(c.col[c.at[n-n0]:], ld, c.cg, c.all, dxg)
			}
		}
	}
	grads := []*tensor.Dense{nil, NewF32(Shape(in[1]), dw), nil}
	if needX {
		grads[0] = NewF32(Shape(in[0]), dx)
	}
	if db != nil {
		grads[2] = NewF32([]int{c.m}, db)
	}
	return grads[:len(in)], nil
}
