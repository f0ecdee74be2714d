package nn

import (
	"fmt"
	"slices"

	"gorgonia.org/tensor"
)

// lstm is ONNX LSTM: every attribute, every optional input, both layouts and
// all three directions. Gates are stored in ONNX order i, o, f, c. The input
// projection X·Wᵀ of all time steps is one gemm per direction; each step
// adds H·Rᵀ with one more.
type lstm struct {
	hidden      int // 0: taken from R
	dirs        int
	reverse     bool // direction "reverse" (bidirectional runs both)
	acts        []lstmAct
	clip        float32 // 0: no clipping
	inputForget bool
	batchFirst  bool // layout 1
}

var _ Differentiable = (*lstm)(nil)

func newLSTM(opset int, a Attrs) (Op, error) {
	known := []string{"activation_alpha", "activation_beta", "activations", "clip", "direction", "hidden_size", "input_forget"}
	if opset >= 14 {
		known = append(known, "layout")
	}
	if err := a.Check("LSTM", known...); err != nil {
		return nil, err
	}
	l := &lstm{dirs: 1}
	dir, err := a.String("direction", "forward")
	if err != nil {
		return nil, fmt.Errorf("LSTM: %w", err)
	}
	switch dir {
	case "forward":
	case "reverse":
		l.reverse = true
	case "bidirectional":
		l.dirs = 2
	default:
		return nil, &UnsupportedError{Op: "LSTM", Reason: fmt.Sprintf("direction %q", dir)}
	}
	hidden, err := a.Int("hidden_size", 0)
	if err != nil {
		return nil, fmt.Errorf("LSTM: %w", err)
	}
	clip, err := a.Float("clip", 0)
	if err != nil {
		return nil, fmt.Errorf("LSTM: %w", err)
	}
	if hidden < 0 || clip < 0 {
		return nil, fmt.Errorf("LSTM: hidden_size %d and clip %g, want neither negative", hidden, clip)
	}
	l.hidden, l.clip = int(hidden), clip
	forget, err := a.Int("input_forget", 0)
	if err != nil {
		return nil, fmt.Errorf("LSTM: %w", err)
	}
	layout, err := a.Int("layout", 0)
	if err != nil {
		return nil, fmt.Errorf("LSTM: %w", err)
	}
	if forget != 0 && forget != 1 || layout != 0 && layout != 1 {
		return nil, fmt.Errorf("LSTM: input_forget %d and layout %d, want 0 or 1", forget, layout)
	}
	l.inputForget, l.batchFirst = forget == 1, layout == 1
	def := []string{"Sigmoid", "Tanh", "Tanh", "Sigmoid", "Tanh", "Tanh"}[:3*l.dirs]
	names, err := a.Strings("activations", def)
	if err != nil {
		return nil, fmt.Errorf("LSTM: %w", err)
	}
	if len(names) != 3*l.dirs {
		return nil, fmt.Errorf("LSTM: %d activations, want %d (f, g, h per direction)", len(names), 3*l.dirs)
	}
	alphas, err := a.Floats("activation_alpha", nil)
	if err != nil {
		return nil, fmt.Errorf("LSTM: %w", err)
	}
	betas, err := a.Floats("activation_beta", nil)
	if err != nil {
		return nil, fmt.Errorf("LSTM: %w", err)
	}
	if l.acts, err = parseLSTMActs("LSTM", names, alphas, betas); err != nil {
		return nil, err
	}
	return l, nil
}

// lstmCall holds one call's sizes and input data; b, p, h0 and c0 are nil
// when the input is absent.
type lstmCall struct {
	seq, batch, in, hid int
	x, w, r, b, p       []float32
	h0, c0              []float32
	lens                []int
}

// lstmTape records one direction's forward pass, indexed by step s (the
// time step t differs per batch entry in reverse).
type lstmTape struct {
	h, c []float32 // (seq+1)×batch×H: the state before step s is at s
	z    []float32 // seq×batch×4H gate pre-activations, peepholes in, unclipped
	a    []float32 // seq×batch×4H gate activations i, o, f, g
}

func (l *lstm) setup(in []*tensor.Dense) (*lstmCall, error) {
	if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
		return nil, fmt.Errorf("LSTM: want inputs X, W and R")
	}
	get := func(i int, name string, shape ...int) ([]float32, error) {
		if len(in) <= i || in[i] == nil {
			return nil, nil
		}
		v, err := F32(in[i])
		if err != nil {
			return nil, &UnsupportedError{Op: "LSTM", Reason: fmt.Sprintf("%s: %v", name, err)}
		}
		if s := Shape(in[i]); shape != nil && !slices.Equal(s, shape) {
			return nil, fmt.Errorf("LSTM: %s shape %v, want %v", name, s, shape)
		}
		return v, nil
	}
	xs, rs := Shape(in[0]), Shape(in[2])
	if len(xs) != 3 || len(rs) != 3 {
		return nil, fmt.Errorf("LSTM: X shape %v and R shape %v, want 3 dimensions each", xs, rs)
	}
	c := &lstmCall{seq: xs[0], batch: xs[1], in: xs[2], hid: rs[2]}
	if l.batchFirst {
		c.seq, c.batch = c.batch, c.seq
	}
	if l.hidden != 0 && l.hidden != c.hid {
		return nil, fmt.Errorf("LSTM: hidden_size %d, R shape %v", l.hidden, rs)
	}
	d, g, h := l.dirs, 4*c.hid, c.hid
	state := []int{d, c.batch, h}
	if l.batchFirst {
		state = []int{c.batch, d, h}
	}
	var err error
	if c.x, err = get(0, "X"); err != nil {
		return nil, err
	}
	for _, v := range []struct {
		dst   *[]float32
		i     int
		name  string
		shape []int
	}{
		{&c.w, 1, "W", []int{d, g, c.in}},
		{&c.r, 2, "R", []int{d, g, h}},
		{&c.b, 3, "B", []int{d, 2 * g}},
		{&c.h0, 5, "initial_h", state},
		{&c.c0, 6, "initial_c", state},
		{&c.p, 7, "P", []int{d, 3 * h}},
	} {
		if *v.dst, err = get(v.i, v.name, v.shape...); err != nil {
			return nil, err
		}
	}
	c.lens = make([]int, c.batch)
	for b := range c.lens {
		c.lens[b] = c.seq
	}
	if len(in) > 4 && in[4] != nil {
		sl := in[4]
		if s := Shape(sl); !slices.Equal(s, []int{c.batch}) {
			return nil, fmt.Errorf("LSTM: sequence_lens shape %v, want [%d]", s, c.batch)
		}
		for b := range c.lens {
			switch sl.Dtype() {
			case tensor.Int32:
				c.lens[b] = int(sl.Int32s()[b])
			case tensor.Int64:
				c.lens[b] = int(sl.Int64s()[b])
			default:
				return nil, &UnsupportedError{Op: "LSTM", Reason: fmt.Sprintf("sequence_lens of type %v", sl.Dtype())}
			}
			if c.lens[b] < 0 || c.lens[b] > c.seq {
				return nil, fmt.Errorf("LSTM: sequence_lens[%d] = %d outside [0, %d]", b, c.lens[b], c.seq)
			}
		}
	}
	return c, nil
}

// step maps step s of direction d to the time step batch entry b reads,
// false once b's sequence has ended. Reverse runs start at each sequence's
// own last step.
func (l *lstm) step(c *lstmCall, d, s, b int) (int, bool) {
	if s >= c.lens[b] {
		return 0, false
	}
	if d == 1 || l.reverse {
		return c.lens[b] - 1 - s, true
	}
	return s, true
}

// xRow is the row of X (and of the input projection) for time t, entry b.
func (l *lstm) xRow(c *lstmCall, t, b int) int {
	if l.batchFirst {
		return b*c.seq + t
	}
	return t*c.batch + b
}

// yAt is the offset of Y[t, d, b, :] (layout 0) or Y[b, t, d, :] (layout 1).
func (l *lstm) yAt(c *lstmCall, t, d, b int) int {
	if l.batchFirst {
		return ((b*c.seq+t)*l.dirs + d) * c.hid
	}
	return ((t*l.dirs+d)*c.batch + b) * c.hid
}

// stateAt is the offset of Y_h[d, b, :] (layout 0) or Y_h[b, d, :] (layout 1),
// likewise for Y_c, initial_h and initial_c.
func (l *lstm) stateAt(c *lstmCall, d, b int) int {
	if l.batchFirst {
		return (b*l.dirs + d) * c.hid
	}
	return (d*c.batch + b) * c.hid
}

func (l *lstm) clipped(v float32) (float32, bool) {
	if l.clip == 0 || v >= -l.clip && v <= l.clip {
		return v, true
	}
	return min(max(v, -l.clip), l.clip), false
}

func (l *lstm) Forward(p *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	c, err := l.setup(in)
	if err != nil {
		return nil, nil, err
	}
	d, h := l.dirs, c.hid
	y := make([]float32, c.seq*d*c.batch*h)
	yh := make([]float32, d*c.batch*h)
	yc := make([]float32, d*c.batch*h)
	gx := make([]float32, c.seq*c.batch*4*h)
	tapes := make([]*lstmTape, d)
	for dir := range d {
		tapes[dir] = l.run(c, dir, gx, y, yh, yc)
	}
	yShape, sShape := []int{c.seq, d, c.batch, h}, []int{d, c.batch, h}
	if l.batchFirst {
		yShape, sShape = []int{c.batch, c.seq, d, h}, []int{c.batch, d, h}
	}
	out := []*tensor.Dense{NewF32(yShape, y), NewF32(sShape, yh), NewF32(sShape, yc)}
	if p != nil && p.Train {
		return out, tapes, nil
	}
	return out, nil, nil
}

// run computes direction d into y, yh and yc and returns its tape; gx is
// scratch for the input projection.
func (l *lstm) run(c *lstmCall, d int, gx, y, yh, yc []float32) *lstmTape {
	h, g, nb := c.hid, 4*c.hid, c.batch
	f, gAct, hAct := l.acts[3*d], l.acts[3*d+1], l.acts[3*d+2]
	w := c.w[d*g*c.in:][:g*c.in]
	r := c.r[d*g*h:][:g*h]
	gemm(false, true, c.seq*nb, g, c.in, 1, c.x, w, 0, gx)
	if c.b != nil {
		wb, rb := c.b[d*2*g:][:g], c.b[d*2*g+g:][:g]
		for row := range c.seq * nb {
			gr := gx[row*g:][:g]
			for j := range gr {
				gr[j] += wb[j] + rb[j]
			}
		}
	}
	var pi, po, pf []float32
	if c.p != nil {
		pi, po, pf = c.p[d*3*h:][:h], c.p[d*3*h+h:][:h], c.p[d*3*h+2*h:][:h]
	}
	tp := &lstmTape{
		h: make([]float32, (c.seq+1)*nb*h),
		c: make([]float32, (c.seq+1)*nb*h),
		z: make([]float32, c.seq*nb*g),
		a: make([]float32, c.seq*nb*g),
	}
	for b := range nb {
		if c.h0 != nil {
			copy(tp.h[b*h:][:h], c.h0[l.stateAt(c, d, b):][:h])
		}
		if c.c0 != nil {
			copy(tp.c[b*h:][:h], c.c0[l.stateAt(c, d, b):][:h])
		}
	}
	for s := range c.seq {
		hPrev, cPrev := tp.h[s*nb*h:][:nb*h], tp.c[s*nb*h:][:nb*h]
		hNext, cNext := tp.h[(s+1)*nb*h:][:nb*h], tp.c[(s+1)*nb*h:][:nb*h]
		z, a := tp.z[s*nb*g:][:nb*g], tp.a[s*nb*g:][:nb*g]
		for b := range nb {
			if t, ok := l.step(c, d, s, b); ok {
				copy(z[b*g:][:g], gx[l.xRow(c, t, b)*g:][:g])
			}
		}
		gemm(false, true, nb, g, h, 1, hPrev, r, 1, z)
		for b := range nb {
			t, ok := l.step(c, d, s, b)
			if !ok {
				// Past its end a sequence keeps its state; Y stays zero.
				copy(hNext[b*h:][:h], hPrev[b*h:][:h])
				copy(cNext[b*h:][:h], cPrev[b*h:][:h])
				continue
			}
			zb, ab := z[b*g:][:g], a[b*g:][:g]
			cp, cn, hn := cPrev[b*h:][:h], cNext[b*h:][:h], hNext[b*h:][:h]
			for j := range h {
				if pi != nil {
					zb[j] += pi[j] * cp[j]
					zb[2*h+j] += pf[j] * cp[j]
				}
				v, _ := l.clipped(zb[j])
				i := f.f(v)
				var fg float32
				if l.inputForget {
					fg = 1 - i
				} else {
					v, _ = l.clipped(zb[2*h+j])
					fg = f.f(v)
				}
				v, _ = l.clipped(zb[3*h+j])
				gg := gAct.f(v)
				cn[j] = fg*cp[j] + i*gg
				if po != nil {
					zb[h+j] += po[j] * cn[j]
				}
				v, _ = l.clipped(zb[h+j])
				o := f.f(v)
				v, _ = l.clipped(cn[j])
				hn[j] = o * hAct.f(v)
				ab[j], ab[h+j], ab[2*h+j], ab[3*h+j] = i, o, fg, gg
			}
			copy(y[l.yAt(c, t, d, b):][:h], hn)
		}
	}
	last := c.seq * nb * h
	for b := range nb {
		copy(yh[l.stateAt(c, d, b):][:h], tp.h[last+b*h:][:h])
		copy(yc[l.stateAt(c, d, b):][:h], tp.c[last+b*h:][:h])
	}
	return tp
}
