package nn

import (
	"fmt"
	"slices"

	"gorgonia.org/tensor"
)

// conv is ONNX Conv over any number of spatial axes: im2col and gemm per
// group, several samples' columns side by side in one gemm so that it stays
// large. Port-occupancy inputs are mostly zeros, so columns of the unfolded
// input that are all zero are skipped: their output is exactly the bias, and
// leaving them out of the gemm changes no other value. A sample with only a
// few non-zero inputs skips im2col and gemm altogether: each non-zero value
// is scattered onto the outputs that read it, with the gemm kernel's fused
// multiply-adds in its order, so the result is the same to the bit.
type conv struct {
	win   windowAttrs
	group int
}

// zeroSkip is how much of the work on zero inputs forward leaves out
// (tests compare the levels).
type zeroSkip int

const (
	skipNone    zeroSkip = iota // every column through im2col and gemm
	skipColumns                 // all-zero columns left out of the gemm
	skipScatter                 // and sparse samples scattered, where FMA allows
)

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

// convCall is one call's shapes and data, and one worker's scratch.
type convCall struct {
	x, w, b   []float32 // b nil without bias
	n, c, m   int       // batch, input and output channels
	cg, mg, k int       // channels in and out per group, im2col rows
	win       *window
	batch     int     // samples per gemm
	all       []int32 // every output position, the columns of a dense sample
	// inverse window (see window.inverse), set when zeros are skipped
	invAt, inv, invTap []int32
	wt                 []float32 // W per group as [k][mg], for the scatter; nil: no scatter

	cols []int32 // the columns of the samples in one gemm, side by side
	at   []int   // sample s's columns are cols[at[s]:at[s+1]]
	col  []float32
	part []float32 // gemm output (or dY gathered) for those columns
	live []bool
	nz   []int32   // a scattered sample's non-zero inputs
	acc  []float32 // its sums, [nOut][mg]
}

// gemmColumns bounds the columns of one im2col matrix: large enough for the
// gemm to run at speed, small enough to stay a few MB.
const gemmColumns = 1 << 16

func (o *conv) setup(in []*tensor.Dense, skip zeroSkip) (*convCall, error) {
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
	if skip >= skipColumns {
		c.invAt, c.inv, c.invTap = c.win.inverse()
	}
	if skip == skipScatter && scatterExact(c.k) {
		c.wt = make([]float32, len(c.w))
		for g := range o.group {
			for m := range c.mg {
				for j, v := range c.w[(g*c.mg+m)*c.k:][:c.k] {
					c.wt[(g*c.k+j)*c.mg+m] = v
				}
			}
		}
	}
	return c, nil
}

// worker is a copy of c with scratch buffers of its own.
func (c *convCall) worker() *convCall {
	w := *c
	w.cols, w.at, w.col, w.part, w.live, w.nz, w.acc = nil, make([]int, c.batch+1), nil, nil, nil, nil, nil
	return &w
}

// grow returns s resized to n, reallocated only when too small.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func (o *conv) Forward(p *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	y, c, err := o.forward(p, in, skipScatter)
	if err != nil {
		return nil, nil, err
	}
	return []*tensor.Dense{NewF32(append([]int{c.n, c.m}, c.win.out...), y)}, nil, nil
}

// forward runs the convolution, the samples split between the CPUs.
func (o *conv) forward(p *Pass, in []*tensor.Dense, skip zeroSkip) ([]float32, *convCall, error) {
	c, err := o.setup(in, skip)
	if err != nil {
		return nil, nil, err
	}
	y := p.Floats(c.n * c.m * c.win.nOut)
	perSample := c.c * c.win.inSize
	// parallel splits the input's values; sample s goes to the chunk that
	// holds its first value.
	parallel(c.n*perSample, func(lo, hi int) {
		c.worker().forwardSamples(o.group, (lo+perSample-1)/perSample, (hi+perSample-1)/perSample, skip, y)
	})
	return y, c, nil
}

// forwardSamples computes samples n0..n1-1 of y.
func (c *convCall) forwardSamples(groups, n0, n1 int, skip zeroSkip, y []float32) {
	pending := make([]int, 0, min(c.batch, n1-n0))
	for g := range groups {
		for n := n0; n < n1; n++ {
			if c.wt != nil && c.scatter(n, g, y) {
				continue
			}
			if pending = append(pending, n); len(pending) == c.batch {
				c.gemmSamples(g, pending, skip, y)
				pending = pending[:0]
			}
		}
		if len(pending) > 0 {
			c.gemmSamples(g, pending, skip, y)
			pending = pending[:0]
		}
	}
}

// gemmSamples computes the given samples' outputs of group g with one
// im2col and gemm.
func (c *convCall) gemmSamples(g int, samples []int, skip zeroSkip, y []float32) {
	nOut := c.win.nOut
	ld := c.unfold(g, samples, skip >= skipColumns)
	c.part = grow(c.part, c.mg*ld)
	for m := range c.mg {
		fillBias(c.part[m*ld:][:ld], c.bias(g*c.mg+m))
	}
	gemm(false, false, c.mg, ld, c.k, 1, c.w[g*c.mg*c.k:][:c.mg*c.k], c.col[:c.k*ld], 1, c.part)
	for s, n := range samples {
		cols := c.cols[c.at[s]:c.at[s+1]]
		for m := range c.mg {
			row := y[(n*c.m+g*c.mg+m)*nOut:][:nOut]
			src := c.part[m*ld+c.at[s]:][:len(cols)]
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

// scatter computes sample n's outputs of group g into y from its non-zero
// inputs alone, unless they are too many to beat the gemm: then it reports
// false and writes nothing. Each output's sum runs over its inputs in im2col
// row order, as the kernel's does.
func (c *convCall) scatter(n, g int, y []float32) bool {
	w, xg := c.win, c.xg(n, g)
	budget := w.nOut * c.k / 16 // multiply-adds per output channel
	c.nz = c.nz[:0]
	work := 0
	for i := nextNonzero(xg); i < len(xg); i += 1 + nextNonzero(xg[i+1:]) {
		p := i % w.inSize
		if work += int(c.invAt[p+1] - c.invAt[p]); work > budget {
			return false
		}
		c.nz = append(c.nz, int32(i))
	}
	c.acc = grow(c.acc, w.nOut*c.mg)
	c.live = grow(c.live, w.nOut)
	c.cols = c.cols[:0]
	wt := c.wt[g*c.k*c.mg:][:c.k*c.mg]
	for _, i := range c.nz {
		ch, p := int(i)/w.inSize, int(i)%w.inSize
		for j := c.invAt[p]; j < c.invAt[p+1]; j++ {
			q, t := c.inv[j], int(c.invTap[j])
			if !c.live[q] {
				c.live[q] = true
				c.cols = append(c.cols, q)
			}
			fusedAxpy(c.acc[int(q)*c.mg:][:c.mg], wt[(ch*w.nTaps+t)*c.mg:], xg[i])
		}
	}
	for m := range c.mg {
		b := c.bias(g*c.mg + m)
		row := y[(n*c.m+g*c.mg+m)*w.nOut:][:w.nOut]
		fillBias(row, b)
		for _, q := range c.cols {
			row[q] = b + c.acc[int(q)*c.mg+m]
		}
	}
	for _, q := range c.cols {
		c.live[q] = false
		clear(c.acc[int(q)*c.mg:][:c.mg])
	}
	return true
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

// unfold writes the im2col matrix of group g for the given samples into
// c.col, their columns side by side, and returns its row length. With
// sparse set a sample whose live columns are at most half contributes only
// those; otherwise all of its columns. c.cols and c.at say which are where.
func (c *convCall) unfold(g int, samples []int, sparse bool) int {
	c.cols = c.cols[:0]
	for s, n := range samples {
		c.at[s] = len(c.cols)
		if !sparse || !c.appendLive(c.xg(n, g)) {
			c.cols = append(c.cols[:c.at[s]], c.all...)
		}
	}
	ld := len(c.cols)
	c.at[len(samples)] = ld
	c.col = grow(c.col, c.k*ld)
	for s, n := range samples {
		c.win.im2col(c.xg(n, g), c.cg, c.cols[c.at[s]:c.at[s+1]], c.col[c.at[s]:], ld)
	}
	return ld
}

// appendLive appends to c.cols, in ascending order, the output positions
// whose window reads a non-zero input of xg, and reports false (leaving a
// partial list) once more than half are live: then dense is cheaper. The
// cost is proportional to the non-zero inputs, not to the window.
func (c *convCall) appendLive(xg []float32) bool {
	w := c.win
	c.live = grow(c.live, w.nOut)
	clear(c.live)
	start := len(c.cols)
	for i := nextNonzero(xg); i < len(xg); i += 1 + nextNonzero(xg[i+1:]) {
		p := i % w.inSize
		for _, q := range c.inv[c.invAt[p]:c.invAt[p+1]] {
			if !c.live[q] {
				c.live[q] = true
				c.cols = append(c.cols, q)
			}
		}
		if 2*(len(c.cols)-start) > w.nOut {
			return false
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
	c0, err := o.setup(in, skipColumns)
	if err != nil {
		return nil, err
	}
	c := c0.worker()
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
	gather := func(g int, samples []int, ld int) []float32 {
		c.part = grow(c.part, c.mg*ld)
		part := c.part
		for s, n := range samples {
			cols := c.cols[c.at[s]:c.at[s+1]]
			for m := range c.mg {
				row := gy[(n*c.m+g*c.mg+m)*nOut:][:nOut]
				dst := part[m*ld+c.at[s]:][:len(cols)]
				for j, q := range cols {
					dst[j] = row[q]
				}
			}
		}
		return part
	}
	samples := make([]int, 0, c.batch)
	for g := range o.group {
		wg := c.w[g*c.mg*c.k:][:c.mg*c.k]
		dwg := dw[g*c.mg*c.k:][:c.mg*c.k]
		for n0 := 0; n0 < c.n; n0 += c.batch {
			samples := samples[:0]
			for n := n0; n < min(n0+c.batch, c.n); n++ {
				samples = append(samples, n)
			}
			// dW += dY·colᵀ: all-zero columns add nothing.
			ld := c.unfold(g, samples, true)
			gemm(false, true, c.mg, c.k, ld, 1, gather(g, samples, ld), c.col[:c.k*ld], 1, dwg)
			if !needX {
				continue
			}
			// dX = col2im(Wᵀ·dY), over every column: zero inputs still
			// have a gradient.
			c.cols = c.cols[:0]
			for s := range samples {
				c.at[s] = len(c.cols)
				c.cols = append(c.cols, c.all...)
			}
			ld = len(c.cols)
			c.at[len(samples)] = ld
			c.col = grow(c.col, c.k*ld)
			gemm(true, false, c.k, ld, c.mg, 1, wg, gather(g, samples, ld), 0, c.col)
			for s, n := range samples {
				dxg := dx[(n*c.c+g*c.cg)*c.win.inSize:][:c.cg*c.win.inSize]
				c.win.col2im(c.col[c.at[s]:], ld, c.cg, c.all, dxg)
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
