package nn

import (
	"gorgonia.org/tensor"
)

// Backward is backpropagation through time over the forward tape, for X, W,
// R, B, initial_h, initial_c and P. Steps past a sequence's end pass the
// state gradient through unchanged; clipped pre-activations pass none.
func (l *lstm) Backward(in, _, gradOut []*tensor.Dense, saved any) ([]*tensor.Dense, error) {
	c, err := l.setup(in)
	if err != nil {
		return nil, err
	}
	dc := make([]float32, l.dirs*c.batch*c.hid)
	dp := make([]float32, l.dirs*3*c.hid)
	gr, err := backwardDirs(c.rnnCall, gradOut, saved, 2, func(d int, tp *lstmTape, gy [][]float32, gr *rnnGrads) {
		l.backDir(c, d, tp, gy, gr, dc, dp)
	})
	if err != nil {
		return nil, err
	}
	return gradTensors(in, map[int][]float32{0: gr.x, 1: gr.w, 2: gr.r, 3: gr.b, 5: gr.h, 6: dc, 7: dp}), nil
}

// backDir runs direction d's steps backwards, adding into gr and into dc0
// and dp, the gradients of initial_c and P.
func (l *lstm) backDir(c *lstmCall, d int, tp *lstmTape, gy [][]float32, gr *rnnGrads, dc0, dp []float32) {
	h, g, nb := c.hid, 4*c.hid, c.batch
	acts := l.dirActs(d)
	f, gAct, hAct := acts[0], acts[1], acts[2]
	dh := make([]float32, nb*h)
	dhPrev := make([]float32, nb*h)
	dc := make([]float32, nb*h)
	dz := make([]float32, nb*g)
	dgx := make([]float32, c.seq*nb*g) // dz by row of X
	c.gatherState(d, gy[1], dh)
	c.gatherState(d, gy[2], dc)
	var pi, po, pf, dpi, dpo, dpf []float32
	if c.p != nil {
		pi, po, pf = c.p[d*3*h:][:h], c.p[d*3*h+h:][:h], c.p[d*3*h+2*h:][:h]
		dpi, dpo, dpf = dp[d*3*h:][:h], dp[d*3*h+h:][:h], dp[d*3*h+2*h:][:h]
	}
	r := c.r[d*g*h:][:g*h]
	dr := gr.r[d*g*h:][:g*h]
	for s := c.seq - 1; s >= 0; s-- {
		hPrev, cPrev := tp.h[s*nb*h:][:nb*h], tp.c[s*nb*h:][:nb*h]
		cNext := tp.c[(s+1)*nb*h:][:nb*h]
		z, a := tp.z[s*nb*g:][:nb*g], tp.a[s*nb*g:][:nb*g]
		for b := range nb {
			t, ok := c.backStep(d, s, b, gy[0], dh, dz)
			if !ok {
				continue
			}
			dzb, dhb, dcb := dz[b*g:][:g], dh[b*h:][:h], dc[b*h:][:h]
			zb, ab := z[b*g:][:g], a[b*g:][:g]
			cp, cn := cPrev[b*h:][:h], cNext[b*h:][:h]
			for j := range h {
				i, o, fg, gg := ab[j], ab[h+j], ab[2*h+j], ab[3*h+j]
				// H = o·h(C), C clipped on the way into h only.
				v, in := l.clipped(cn[j])
				hc := hAct.f(v)
				dC := dcb[j]
				if in {
					dC += dhb[j] * o * hAct.df(v, hc)
				}
				var dzo float32
				if v, in := l.clipped(zb[h+j]); in {
					dzo = dhb[j] * hc * f.df(v, o)
				}
				if po != nil {
					dC += dzo * po[j]
					dpo[j] += dzo * cn[j]
				}
				// C = f·C' + i·g.
				dI, dF := dC*gg, dC*cp[j]
				dcp := dC * fg
				var dzf float32
				if l.inputForget {
					dI -= dF // f = 1 - i
				} else if v, in := l.clipped(zb[2*h+j]); in {
					dzf = dF * f.df(v, fg)
				}
				var dzi, dzg float32
				if v, in := l.clipped(zb[j]); in {
					dzi = dI * f.df(v, i)
				}
				if v, in := l.clipped(zb[3*h+j]); in {
					dzg = dC * i * gAct.df(v, gg)
				}
				if pi != nil {
					dcp += dzi*pi[j] + dzf*pf[j]
					dpi[j] += dzi * cp[j]
					dpf[j] += dzf * cp[j]
				}
				dzb[j], dzb[h+j], dzb[2*h+j], dzb[3*h+j] = dzi, dzo, dzf, dzg
				dcb[j] = dcp
			}
			copy(dgx[c.xRow(t, b)*g:][:g], dzb)
		}
		c.backThroughR(d, s, dz, r, hPrev, dh, dhPrev, dr)
		dh, dhPrev = dhPrev, dh
	}
	c.backProject(d, dgx, gr, 4)
	c.scatterState(d, dh, gr.h)
	c.scatterState(d, dc, dc0)
}
