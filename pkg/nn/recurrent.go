package nn

import (
	"fmt"
	"slices"

	"gorgonia.org/tensor"
)

// recurrent is what ONNX RNN, GRU and LSTM share: the attributes other than
// each op's own flag, inputs X, W, R, B, sequence_lens and initial_h, the
// time and layout bookkeeping, the input projection and the Y and Y_h
// outputs. W, R and each half of B hold gates blocks of hidden_size rows.
type recurrent struct {
	op         string
	gates      int
	hidden     int // 0: taken from R
	dirs       int
	reverse    bool     // direction "reverse" (bidirectional runs both)
	acts       []rnnAct // len(acts)/dirs per direction, in the op's order
	clip       float32  // 0: no clipping
	batchFirst bool     // layout 1
}

// newRecurrent reads the shared attributes; perDir are the default
// activations of one direction and extra the op's own attributes, which the
// caller reads.
func newRecurrent(op string, opset int, a Attrs, gates int, perDir []string, extra ...string) (recurrent, error) {
	known := append([]string{"activation_alpha", "activation_beta", "activations", "clip", "direction", "hidden_size"}, extra...)
	if opset >= 14 {
		known = append(known, "layout")
	}
	r := recurrent{op: op, gates: gates, dirs: 1}
	if err := a.Check(op, known...); err != nil {
		return r, err
	}
	dir, err := a.String("direction", "forward")
	if err != nil {
		return r, fmt.Errorf("%s: %w", op, err)
	}
	switch dir {
	case "forward":
	case "reverse":
		r.reverse = true
	case "bidirectional":
		r.dirs = 2
	default:
		return r, &UnsupportedError{Op: op, Reason: fmt.Sprintf("direction %q", dir)}
	}
	hidden, err := a.Int("hidden_size", 0)
	if err != nil {
		return r, fmt.Errorf("%s: %w", op, err)
	}
	clip, err := a.Float("clip", 0)
	if err != nil {
		return r, fmt.Errorf("%s: %w", op, err)
	}
	if hidden < 0 || clip < 0 {
		return r, fmt.Errorf("%s: hidden_size %d and clip %g, want neither negative", op, hidden, clip)
	}
	r.hidden, r.clip = int(hidden), clip
	layout, err := a.Int("layout", 0)
	if err != nil {
		return r, fmt.Errorf("%s: %w", op, err)
	}
	if layout != 0 && layout != 1 {
		return r, fmt.Errorf("%s: layout %d, want 0 or 1", op, layout)
	}
	r.batchFirst = layout == 1
	def := perDir
	if r.dirs == 2 {
		def = append(slices.Clone(perDir), perDir...)
	}
	names, err := a.Strings("activations", def)
	if err != nil {
		return r, fmt.Errorf("%s: %w", op, err)
	}
	if len(names) != len(def) {
		return r, fmt.Errorf("%s: %d activations, want %d (%d per direction)", op, len(names), len(def), len(perDir))
	}
	alphas, err := a.Floats("activation_alpha", nil)
	if err != nil {
		return r, fmt.Errorf("%s: %w", op, err)
	}
	betas, err := a.Floats("activation_beta", nil)
	if err != nil {
		return r, fmt.Errorf("%s: %w", op, err)
	}
	r.acts, err = parseActs(op, names, alphas, betas)
	return r, err
}

// flag reads a 0/1 attribute of the op's own.
func (r *recurrent) flag(a Attrs, name string) (bool, error) {
	v, err := a.Int(name, 0)
	if err != nil {
		return false, fmt.Errorf("%s: %w", r.op, err)
	}
	if v != 0 && v != 1 {
		return false, fmt.Errorf("%s: %s %d, want 0 or 1", r.op, name, v)
	}
	return v == 1, nil
}

// dirActs are direction d's activations.
func (r *recurrent) dirActs(d int) []rnnAct {
	n := len(r.acts) / r.dirs
	return r.acts[d*n:][:n]
}

func (r *recurrent) clipped(v float32) (float32, bool) {
	if r.clip == 0 || v >= -r.clip && v <= r.clip {
		return v, true
	}
	return min(max(v, -r.clip), r.clip), false
}

// rnnCall holds one call's sizes and input data; b and h0 are nil when the
// input is absent.
type rnnCall struct {
	*recurrent
	seq, batch, in, hid int
	x, w, r, b, h0      []float32
	lens                []int
}

// input is float32 input i, nil if absent, checked against shape unless
// shape is nil.
func (r *recurrent) input(in []*tensor.Dense, i int, name string, shape []int) ([]float32, error) {
	if len(in) <= i || in[i] == nil {
		return nil, nil
	}
	v, err := F32(in[i])
	if err != nil {
		return nil, &UnsupportedError{Op: r.op, Reason: fmt.Sprintf("%s: %v", name, err)}
	}
	if s := Shape(in[i]); shape != nil && !slices.Equal(s, shape) {
		return nil, fmt.Errorf("%s: %s shape %v, want %v", r.op, name, s, shape)
	}
	return v, nil
}

// stateShape is the shape of Y_h and initial_h (and LSTM's Y_c, initial_c).
func (c *rnnCall) stateShape() []int {
	if c.batchFirst {
		return []int{c.batch, c.dirs, c.hid}
	}
	return []int{c.dirs, c.batch, c.hid}
}

func (r *recurrent) setup(in []*tensor.Dense) (*rnnCall, error) {
	if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
		return nil, fmt.Errorf("%s: want inputs X, W and R", r.op)
	}
	xs, rs := Shape(in[0]), Shape(in[2])
	if len(xs) != 3 || len(rs) != 3 {
		return nil, fmt.Errorf("%s: X shape %v and R shape %v, want 3 dimensions each", r.op, xs, rs)
	}
	c := &rnnCall{recurrent: r, seq: xs[0], batch: xs[1], in: xs[2], hid: rs[2]}
	if r.batchFirst {
		c.seq, c.batch = c.batch, c.seq
	}
	if r.hidden != 0 && r.hidden != c.hid {
		return nil, fmt.Errorf("%s: hidden_size %d, R shape %v", r.op, r.hidden, rs)
	}
	d, g, h := r.dirs, r.gates*c.hid, c.hid
	var err error
	for _, v := range []struct {
		dst   *[]float32
		i     int
		name  string
		shape []int
	}{
		{&c.x, 0, "X", nil},
		{&c.w, 1, "W", []int{d, g, c.in}},
		{&c.r, 2, "R", []int{d, g, h}},
		{&c.b, 3, "B", []int{d, 2 * g}},
		{&c.h0, 5, "initial_h", c.stateShape()},
	} {
		if *v.dst, err = r.input(in, v.i, v.name, v.shape); err != nil {
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
			return nil, fmt.Errorf("%s: sequence_lens shape %v, want [%d]", r.op, s, c.batch)
		}
		for b := range c.lens {
			switch sl.Dtype() {
			case tensor.Int32:
				c.lens[b] = int(sl.Int32s()[b])
			case tensor.Int64:
				c.lens[b] = int(sl.Int64s()[b])
			default:
				return nil, &UnsupportedError{Op: r.op, Reason: fmt.Sprintf("sequence_lens of type %v", sl.Dtype())}
			}
			if c.lens[b] < 0 || c.lens[b] > c.seq {
				return nil, fmt.Errorf("%s: sequence_lens[%d] = %d outside [0, %d]", r.op, b, c.lens[b], c.seq)
			}
		}
	}
	return c, nil
}

// step maps step s of direction d to the time step batch entry b reads,
// false once b's sequence has ended. Reverse runs start at each sequence's
// own last step.
func (c *rnnCall) step(d, s, b int) (int, bool) {
	if s >= c.lens[b] {
		return 0, false
	}
	if d == 1 || c.reverse {
		return c.lens[b] - 1 - s, true
	}
	return s, true
}

// xRow is the row of X (and of the input projection) for time t, entry b.
func (c *rnnCall) xRow(t, b int) int {
	if c.batchFirst {
		return b*c.seq + t
	}
	return t*c.batch + b
}

// yAt is the offset of Y[t, d, b, :] (layout 0) or Y[b, t, d, :] (layout 1).
func (c *rnnCall) yAt(t, d, b int) int {
	if c.batchFirst {
		return ((b*c.seq+t)*c.dirs + d) * c.hid
	}
	return ((t*c.dirs+d)*c.batch + b) * c.hid
}

// stateAt is the offset of Y_h[d, b, :] (layout 0) or Y_h[b, d, :] (layout
// 1), likewise for initial_h and LSTM's Y_c and initial_c.
func (c *rnnCall) stateAt(d, b int) int {
	if c.batchFirst {
		return (b*c.dirs + d) * c.hid
	}
	return (d*c.batch + b) * c.hid
}

// gatherState copies direction d's rows of a state-shaped src (nil: none)
// into dst, batch×H.
func (c *rnnCall) gatherState(d int, src, dst []float32) {
	if src == nil {
		return
	}
	for b := range c.batch {
		copy(dst[b*c.hid:][:c.hid], src[c.stateAt(d, b):][:c.hid])
	}
}

// scatterState is the inverse of gatherState.
func (c *rnnCall) scatterState(d int, src, dst []float32) {
	for b := range c.batch {
		copy(dst[c.stateAt(d, b):][:c.hid], src[b*c.hid:][:c.hid])
	}
}

// project writes X·Wᵀ + Wb + Rb of direction d into gx, one row of gates·H
// per row of X; Rb only for the first rbGates gates (GRU with
// linear_before_reset adds its last one inside the reset product).
func (c *rnnCall) project(d int, gx []float32, rbGates int) {
	g := c.gates * c.hid
	gemm(false, true, c.seq*c.batch, g, c.in, 1, c.x, c.w[d*g*c.in:][:g*c.in], 0, gx)
	if c.b == nil {
		return
	}
	wb, rb := c.b[d*2*g:][:g], c.b[d*2*g+g:][:rbGates*c.hid]
	for row := range c.seq * c.batch {
		gr := gx[row*g:][:g]
		for j, v := range wb {
			gr[j] += v
		}
		for j, v := range rb {
			gr[j] += v
		}
	}
}

// gatherX copies the projection rows step s of direction d reads into z,
// batch×gates·H; rows of ended sequences are left as they are.
func (c *rnnCall) gatherX(d, s int, gx, z []float32) {
	g := c.gates * c.hid
	for b := range c.batch {
		if t, ok := c.step(d, s, b); ok {
			copy(z[b*g:][:g], gx[c.xRow(t, b)*g:][:g])
		}
	}
}

// rnnTape records one direction's forward pass, indexed by step s (the time
// step t differs per batch entry in reverse).
type rnnTape struct {
	h []float32 // (seq+1)×batch×H: the state before step s is at s
	z []float32 // seq×batch×gates·H activation inputs, unclipped
}

// newTape starts a tape with initial_h of direction d in place.
func (c *rnnCall) newTape(d int) rnnTape {
	nb := c.batch * c.hid
	tp := rnnTape{h: make([]float32, (c.seq+1)*nb), z: make([]float32, c.seq*nb*c.gates)}
	c.gatherState(d, c.h0, tp.h[:nb])
	return tp
}

// forwardDirs runs each direction with run, which fills y and the state
// outputs of direction d and returns its tape; gx is scratch for the input
// projection. The tapes come back as saved in training.
func forwardDirs[T any](c *rnnCall, p *Pass, nStates int, run func(d int, gx, y []float32, states [][]float32) T) ([]*tensor.Dense, any) {
	n := c.dirs * c.batch * c.hid
	y := make([]float32, c.seq*n)
	states := make([][]float32, nStates)
	for k := range states {
		states[k] = make([]float32, n)
	}
	gx := make([]float32, c.seq*c.batch*c.gates*c.hid)
	tapes := make([]T, c.dirs)
	for d := range c.dirs {
		tapes[d] = run(d, gx, y, states)
	}
	yShape := []int{c.seq, c.dirs, c.batch, c.hid}
	if c.batchFirst {
		yShape = []int{c.batch, c.seq, c.dirs, c.hid}
	}
	out := []*tensor.Dense{NewF32(yShape, y)}
	for _, s := range states {
		out = append(out, NewF32(c.stateShape(), s))
	}
	if p != nil && p.Train {
		return out, tapes
	}
	return out, nil
}

// rnnGrads are the input gradients, in the inputs' own layouts.
type rnnGrads struct {
	x, w, r, b, h []float32
}

// backwardDirs checks the tapes of a training forward pass and the loss
// gradients of Y and the nStates state outputs (nil where absent), then runs
// back on each direction, which adds into gr.
func backwardDirs[T any](c *rnnCall, gradOut []*tensor.Dense, saved any, nStates int, back func(d int, tp T, gy [][]float32, gr *rnnGrads)) (*rnnGrads, error) {
	tapes, ok := saved.([]T)
	if !ok || len(tapes) != c.dirs {
		return nil, fmt.Errorf("%s backward: no tape from a training forward pass", c.op)
	}
	gy := make([][]float32, 1+nStates)
	n := c.dirs * c.batch * c.hid
	for k := range min(len(gradOut), len(gy)) {
		if gradOut[k] == nil {
			continue
		}
		var err error
		if gy[k], err = F32(gradOut[k]); err != nil {
			return nil, fmt.Errorf("%s backward: gradient of output %d: %w", c.op, k, err)
		}
		want := n
		if k == 0 {
			want *= c.seq
		}
		if len(gy[k]) != want {
			return nil, fmt.Errorf("%s backward: gradient of output %d has %d values, want %d", c.op, k, len(gy[k]), want)
		}
	}
	gr := &rnnGrads{
		x: make([]float32, len(c.x)),
		w: make([]float32, len(c.w)),
		r: make([]float32, len(c.r)),
		b: make([]float32, c.dirs*2*c.gates*c.hid),
		h: make([]float32, n),
	}
	for d := range c.dirs {
		back(d, tapes[d], gy, gr)
	}
	return gr, nil
}

// backProject adds direction d's share of the X, W and B gradients, given
// dgx, the gradient of the projection by row of X; Rb's share only for the
// first rbGates gates, as in project.
func (c *rnnCall) backProject(d int, dgx []float32, gr *rnnGrads, rbGates int) {
	g := c.gates * c.hid
	gemm(false, false, c.seq*c.batch, c.in, g, 1, dgx, c.w[d*g*c.in:][:g*c.in], 1, gr.x)
	gemm(true, false, g, c.in, c.seq*c.batch, 1, dgx, c.x, 0, gr.w[d*g*c.in:][:g*c.in])
	db := gr.b[d*2*g:][:2*g]
	for row := range c.seq * c.batch {
		for j, v := range dgx[row*g:][:g] {
			db[j] += v
		}
	}
	copy(db[g:][:rbGates*c.hid], db[:g])
}

// gradTensors shapes the gradients of the inputs present, by input index.
func gradTensors(in []*tensor.Dense, grads map[int][]float32) []*tensor.Dense {
	out := make([]*tensor.Dense, len(in))
	for i, g := range grads {
		if i < len(in) && in[i] != nil {
			out[i] = NewF32(Shape(in[i]), g)
		}
	}
	return out
}

// carryEnded copies from into to for the rows of batch entries whose
// sequence has ended by step s of direction d: past its end a sequence keeps
// its state, and in backward its state gradient.
func (c *rnnCall) carryEnded(d, s int, from, to []float32) {
	for b := range c.batch {
		if _, ok := c.step(d, s, b); !ok {
			copy(to[b*c.hid:][:c.hid], from[b*c.hid:][:c.hid])
		}
	}
}

// backStep starts backward step s of direction d for batch entry b: once
// the entry's sequence has ended it zeroes the entry's row of each of zero
// and returns false; otherwise it adds the loss gradient of Y (gy nil: none)
// into the entry's row of dh, the state gradient, and returns its time step.
func (c *rnnCall) backStep(d, s, b int, gy, dh []float32, zero ...[]float32) (int, bool) {
	t, ok := c.step(d, s, b)
	if !ok {
		for _, z := range zero {
			w := len(z) / c.batch
			clear(z[b*w:][:w])
		}
		return 0, false
	}
	if gy != nil {
		dhb := dh[b*c.hid:][:c.hid]
		for j, v := range gy[c.yAt(t, d, b):][:c.hid] {
			dhb[j] += v
		}
	}
	return t, true
}

// backThroughR is the step of backward where every gate sees H' through R:
// dhPrev = dz·R and dR += dzᵀ·H', for dz of one step, batch×gates·H. Rows
// of ended sequences have dz = 0 and keep their gradient dh.
func (c *rnnCall) backThroughR(d, s int, dz, r, hPrev, dh, dhPrev, dr []float32) {
	g, h := c.gates*c.hid, c.hid
	gemm(false, false, c.batch, h, g, 1, dz, r, 0, dhPrev)
	gemm(true, false, g, h, c.batch, 1, dz, hPrev, 1, dr)
	c.carryEnded(d, s, dh, dhPrev)
}

// forwardH is Forward of the ops whose only state is H: run computes
// direction d into y and yh and returns its tape.
func forwardH[T any](r *recurrent, p *Pass, in []*tensor.Dense, run func(c *rnnCall, d int, gx, y, yh []float32) T) ([]*tensor.Dense, any, error) {
	c, err := r.setup(in)
	if err != nil {
		return nil, nil, err
	}
	out, saved := forwardDirs(c, p, 1, func(d int, gx, y []float32, states [][]float32) T {
		return run(c, d, gx, y, states[0])
	})
	return out, saved, nil
}

// backwardH is Backward of the ops whose only state is H, for X, W, R, B
// and initial_h: back runs direction d backwards, adding into gr.
func backwardH[T any](r *recurrent, in, gradOut []*tensor.Dense, saved any, back func(c *rnnCall, d int, tp T, gy [][]float32, gr *rnnGrads)) ([]*tensor.Dense, error) {
	c, err := r.setup(in)
	if err != nil {
		return nil, err
	}
	gr, err := backwardDirs(c, gradOut, saved, 1, func(d int, tp T, gy [][]float32, gr *rnnGrads) {
		back(c, d, tp, gy, gr)
	})
	if err != nil {
		return nil, err
	}
	return gradTensors(in, map[int][]float32{0: gr.x, 1: gr.w, 2: gr.r, 3: gr.b, 5: gr.h}), nil
}
