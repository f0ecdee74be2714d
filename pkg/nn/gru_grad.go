package nn

import (
	"gorgonia.org/tensor"
)

// Backward is backpropagation through time over the forward tape, for X, W,
// R, B and initial_h. Steps past a sequence's end pass the state gradient
// through unchanged; clipped activation inputs pass none.
func (g *gru) Backward(in, _, gradOut []*tensor.Dense, saved any) ([]*tensor.Dense, error) {
	return backwardH(&g.recurrent, in, gradOut, saved, g.backDir)
}

// backDir runs direction d's steps backwards, adding into gr.
func (g *gru) backDir(c *rnnCall, d int, tp *gruTape, gy [][]float32, gr *rnnGrads) {
	h, nb := c.hid, c.batch
	w3 := 3 * h
	acts := g.dirActs(d)
	f, gAct := acts[0], acts[1]
	r, dr := c.r[d*w3*h:][:w3*h], gr.r[d*w3*h:][:w3*h]
	rh, drh := r[2*h*h:], dr[2*h*h:]
	var drbh []float32
	if g.linearBeforeReset {
		drbh = gr.b[d*2*w3+w3+2*h:][:h]
	}
	dh := make([]float32, nb*h)
	dhPrev := make([]float32, nb*h)
	dz := make([]float32, nb*w3)
	du := make([]float32, nb*h) // of the hidden gate product u
	dm := make([]float32, nb*h) // of u's input
	var q []float32
	if !g.linearBeforeReset {
		q = make([]float32, nb*h)
	}
	dgx := make([]float32, c.seq*nb*w3) // dz by row of X
	c.gatherState(d, gy[1], dh)
	for s := c.seq - 1; s >= 0; s-- {
		hPrev := tp.h[s*nb*h:][:nb*h]
		z, a, u := tp.z[s*nb*w3:][:nb*w3], tp.a[s*nb*w3:][:nb*w3], tp.u[s*nb*h:][:nb*h]
		for b := range nb {
			if _, ok := c.backStep(d, s, b, gy[0], dh, dz, du); !ok {
				continue
			}
			dzb, dub, dhb := dz[b*w3:][:w3], du[b*h:][:h], dh[b*h:][:h]
			zb, ab, ub := z[b*w3:][:w3], a[b*w3:][:w3], u[b*h:][:h]
			hp, dhp := hPrev[b*h:][:h], dhPrev[b*h:][:h]
			for j := range h {
				// H = (1-z)·h̃ + z·H'.
				zg, rg, hh := ab[j], ab[h+j], ab[2*h+j]
				var dzz, dzh float32
				if v, in := g.clipped(zb[j]); in {
					dzz = dhb[j] * (hp[j] - hh) * f.df(v, zg)
				}
				if v, in := g.clipped(zb[2*h+j]); in {
					dzh = dhb[j] * (1 - zg) * gAct.df(v, hh)
				}
				dhp[j] = dhb[j] * zg
				dzb[j], dzb[2*h+j] = dzz, dzh
				dub[j] = dzh
				if g.linearBeforeReset {
					// h̃'s input has r·u: dr is final here, kept in r's slot.
					dzb[h+j], dub[j] = dzh*ub[j], dzh*rg
				}
			}
		}
		gemm(false, false, nb, h, h, 1, du, rh, 0, dm)
		gemm(true, false, h, h, nb, 1, du, g.productInput(c, d, s, a, hPrev, q), 1, drh)
		for b := range nb {
			t, ok := c.step(d, s, b)
			if !ok {
				continue
			}
			zb, ab, dzb := z[b*w3:][:w3], a[b*w3:][:w3], dz[b*w3:][:w3]
			hp, dhp, dmb := hPrev[b*h:][:h], dhPrev[b*h:][:h], dm[b*h:][:h]
			for j := range h {
				rg := ab[h+j]
				dReset := dzb[h+j]
				if g.linearBeforeReset {
					dhp[j] += dmb[j]
				} else {
					// u's input is r⊙H'.
					dReset = dmb[j] * hp[j]
					dhp[j] += dmb[j] * rg
				}
				dzb[h+j] = 0
				if v, in := g.clipped(zb[h+j]); in {
					dzb[h+j] = dReset * f.df(v, rg)
				}
			}
			if drbh != nil {
				for j, v := range du[b*h:][:h] {
					drbh[j] += v
				}
			}
			copy(dgx[c.xRow(t, b)*w3:][:w3], dzb)
		}
		// z and r see H' through the first two blocks of R.
		gemmStrided(false, false, nb, h, 2*h, 1, dz, w3, r, h, 1, dhPrev, h, nil)
		gemmStrided(true, false, 2*h, h, nb, 1, dz, w3, hPrev, h, 1, dr, h, nil)
		c.carryEnded(d, s, dh, dhPrev)
		dh, dhPrev = dhPrev, dh
	}
	c.backProject(d, dgx, gr, g.rbGates())
	c.scatterState(d, dh, gr.h)
}
