package nn

import (
	"gorgonia.org/tensor"
)

// gru is ONNX GRU: every attribute, every optional input, both layouts and
// all three directions. Gates are stored in ONNX order z, r, h. As in LSTM
// the input projection is one gemm per direction; each step adds H·Rᵀ for
// z and r with one more, and the hidden gate's recurrent product with a
// third: of r⊙H (linear_before_reset 0) or of H, scaled by r afterwards
// (linear_before_reset 1, where Rbh sits inside the product).
type gru struct {
	recurrent
	linearBeforeReset bool
}

var _ Differentiable = (*gru)(nil)

func newGRU(opset int, a Attrs) (Op, error) {
	r, err := newRecurrent("GRU", opset, a, 3, []string{"Sigmoid", "Tanh"}, "linear_before_reset")
	if err != nil {
		return nil, err
	}
	g := &gru{recurrent: r}
	if g.linearBeforeReset, err = g.flag(a, "linear_before_reset"); err != nil {
		return nil, err
	}
	return g, nil
}

// gruTape adds to the shared tape, whose z holds the gate inputs, the gate
// activations z, r and h̃, and the hidden gate's recurrent product u (with
// Rbh) where linear_before_reset multiplies it by r.
type gruTape struct {
	rnnTape
	a, u []float32
}

// rbGates is how many gates have Rb in the input projection: all but the
// hidden one when linear_before_reset puts its Rbh inside the reset product.
func (g *gru) rbGates() int {
	if g.linearBeforeReset {
		return 2
	}
	return 3
}

func (g *gru) Forward(p *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	return forwardH(&g.recurrent, p, in, g.run)
}

// run computes direction d into y and yh and returns its tape; gx is
// scratch for the input projection.
func (g *gru) run(c *rnnCall, d int, gx, y, yh []float32) *gruTape {
	h, nb := c.hid, c.batch
	w3 := 3 * h
	acts := g.dirActs(d)
	f, gAct := acts[0], acts[1]
	r := c.r[d*w3*h:][:w3*h]
	rh := r[2*h*h:]
	c.project(d, gx, g.rbGates())
	var rbh []float32
	if g.linearBeforeReset && c.b != nil {
		rbh = c.b[d*2*w3+w3+2*h:][:h]
	}
	tp := &gruTape{rnnTape: c.newTape(d), a: make([]float32, c.seq*nb*w3), u: make([]float32, c.seq*nb*h)}
	var q []float32 // r⊙H'
	if !g.linearBeforeReset {
		q = make([]float32, nb*h)
	}
	for s := range c.seq {
		hPrev, hNext := tp.h[s*nb*h:][:nb*h], tp.h[(s+1)*nb*h:][:nb*h]
		z, a, u := tp.z[s*nb*w3:][:nb*w3], tp.a[s*nb*w3:][:nb*w3], tp.u[s*nb*h:][:nb*h]
		c.gatherX(d, s, gx, z)
		gemmStrided(false, true, nb, 2*h, h, 1, hPrev, h, r, h, 1, z, w3, nil)
		for b := range nb {
			if _, ok := c.step(d, s, b); !ok {
				continue
			}
			zb, ab := z[b*w3:][:w3], a[b*w3:][:w3]
			for j := range 2 * h {
				v, _ := g.clipped(zb[j])
				ab[j] = f.f(v)
			}
		}
		// u is the hidden gate's recurrent product; its input is r⊙H'
		// without linear_before_reset, H' with it.
		gemm(false, true, nb, h, h, 1, g.productInput(c, d, s, a, hPrev, q), rh, 0, u)
		c.carryEnded(d, s, hPrev, hNext)
		for b := range nb {
			t, ok := c.step(d, s, b)
			if !ok {
				continue // Y stays zero
			}
			zb, ab, ub := z[b*w3:][:w3], a[b*w3:][:w3], u[b*h:][:h]
			hp, hn := hPrev[b*h:][:h], hNext[b*h:][:h]
			for j := range h {
				if g.linearBeforeReset {
					if rbh != nil {
						ub[j] += rbh[j]
					}
					zb[2*h+j] += ab[h+j] * ub[j]
				} else {
					zb[2*h+j] += ub[j]
				}
				v, _ := g.clipped(zb[2*h+j])
				hh := gAct.f(v)
				ab[2*h+j] = hh
				hn[j] = (1-ab[j])*hh + ab[j]*hp[j]
			}
			copy(y[c.yAt(t, d, b):][:h], hn)
		}
	}
	c.scatterState(d, tp.h[c.seq*nb*h:], yh)
	return tp
}

// productInput is the input of step s's hidden gate product: H', or with
// linear_before_reset 0 r⊙H' written into q, from the step's gate
// activations a (rows of ended sequences zero).
func (g *gru) productInput(c *rnnCall, d, s int, a, hPrev, q []float32) []float32 {
	if g.linearBeforeReset {
		return hPrev
	}
	h := c.hid
	clear(q)
	for b := range c.batch {
		if _, ok := c.step(d, s, b); !ok {
			continue
		}
		rg, hp, qb := a[b*3*h+h:][:h], hPrev[b*h:][:h], q[b*h:][:h]
		for j := range h {
			qb[j] = rg[j] * hp[j]
		}
	}
	return q
}
