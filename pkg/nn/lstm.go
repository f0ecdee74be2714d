package nn

import (
	"gorgonia.org/tensor"
)

// lstm is ONNX LSTM: every attribute, every optional input, both layouts and
// all three directions. Gates are stored in ONNX order i, o, f, c. The input
// projection X·Wᵀ of all time steps is one gemm per direction; each step
// adds H·Rᵀ with one more.
type lstm struct {
	recurrent
	inputForget bool
}

var _ Differentiable = (*lstm)(nil)

func newLSTM(opset int, a Attrs) (Op, error) {
	r, err := newRecurrent("LSTM", opset, a, 4, []string{"Sigmoid", "Tanh", "Tanh"}, "input_forget")
	if err != nil {
		return nil, err
	}
	l := &lstm{recurrent: r}
	if l.inputForget, err = l.flag(a, "input_forget"); err != nil {
		return nil, err
	}
	return l, nil
}

// lstmCall adds initial_c and P to the shared inputs; nil when absent.
type lstmCall struct {
	*rnnCall
	c0, p []float32
}

// lstmTape adds the cell states, (seq+1)×batch×H like h, and the gate
// activations i, o, f, g to the shared tape, whose z holds the gate inputs
// with the peepholes in.
type lstmTape struct {
	rnnTape
	c, a []float32
}

func (l *lstm) setup(in []*tensor.Dense) (*lstmCall, error) {
	rc, err := l.recurrent.setup(in)
	if err != nil {
		return nil, err
	}
	c := &lstmCall{rnnCall: rc}
	if c.c0, err = l.input(in, 6, "initial_c", rc.stateShape()); err != nil {
		return nil, err
	}
	if c.p, err = l.input(in, 7, "P", []int{l.dirs, 3 * rc.hid}); err != nil {
		return nil, err
	}
	return c, nil
}

func (l *lstm) Forward(p *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	c, err := l.setup(in)
	if err != nil {
		return nil, nil, err
	}
	out, saved := forwardDirs(c.rnnCall, p, 2, func(d int, gx, y []float32, states [][]float32) *lstmTape {
		return l.run(c, d, gx, y, states[0], states[1])
	})
	return out, saved, nil
}

// run computes direction d into y, yh and yc and returns its tape; gx is
// scratch for the input projection.
func (l *lstm) run(c *lstmCall, d int, gx, y, yh, yc []float32) *lstmTape {
	h, g, nb := c.hid, 4*c.hid, c.batch
	acts := l.dirActs(d)
	f, gAct, hAct := acts[0], acts[1], acts[2]
	r := c.r[d*g*h:][:g*h]
	c.project(d, gx, 4)
	var pi, po, pf []float32
	if c.p != nil {
		pi, po, pf = c.p[d*3*h:][:h], c.p[d*3*h+h:][:h], c.p[d*3*h+2*h:][:h]
	}
	tp := &lstmTape{
		rnnTape: c.newTape(d),
		c:       make([]float32, (c.seq+1)*nb*h),
		a:       make([]float32, c.seq*nb*g),
	}
	c.gatherState(d, c.c0, tp.c[:nb*h])
	for s := range c.seq {
		hPrev, cPrev := tp.h[s*nb*h:][:nb*h], tp.c[s*nb*h:][:nb*h]
		hNext, cNext := tp.h[(s+1)*nb*h:][:nb*h], tp.c[(s+1)*nb*h:][:nb*h]
		z, a := tp.z[s*nb*g:][:nb*g], tp.a[s*nb*g:][:nb*g]
		c.gatherX(d, s, gx, z)
		gemm(false, true, nb, g, h, 1, hPrev, r, 1, z)
		c.carryEnded(d, s, hPrev, hNext)
		c.carryEnded(d, s, cPrev, cNext)
		for b := range nb {
			t, ok := c.step(d, s, b)
			if !ok {
				continue // Y stays zero
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
			copy(y[c.yAt(t, d, b):][:h], hn)
		}
	}
	last := c.seq * nb * h
	c.scatterState(d, tp.h[last:], yh)
	c.scatterState(d, tp.c[last:], yc)
	return tp
}
