package nn

import (
	"fmt"

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
	tapes, ok := saved.([]*lstmTape)
	if !ok || len(tapes) != l.dirs {
		return nil, fmt.Errorf("LSTM backward: no tape from a training forward pass")
	}
	var gy [3][]float32 // gradients of Y, Y_h, Y_c; nil where absent
	for k := range min(len(gradOut), 3) {
		if gradOut[k] == nil {
			continue
		}
		if gy[k], err = F32(gradOut[k]); err != nil {
			return nil, fmt.Errorf("LSTM backward: gradient of output %d: %w", k, err)
		}
		if want := []int{c.seq * l.dirs * c.batch * c.hid, l.dirs * c.batch * c.hid, l.dirs * c.batch * c.hid}[k]; len(gy[k]) != want {
			return nil, fmt.Errorf("LSTM backward: gradient of output %d has %d values, want %d", k, len(gy[k]), want)
		}
	}
	gr := &lstmGrads{
		x: make([]float32, len(c.x)),
		w: make([]float32, len(c.w)),
		r: make([]float32, len(c.r)),
		b: make([]float32, l.dirs*8*c.hid),
		p: make([]float32, l.dirs*3*c.hid),
		h: make([]float32, l.dirs*c.batch*c.hid),
		c: make([]float32, l.dirs*c.batch*c.hid),
	}
	for d := range l.dirs {
		l.backDir(c, d, tapes[d], gy, gr)
	}
	grads := make([]*tensor.Dense, len(in))
	for i, g := range map[int][]float32{0: gr.x, 1: gr.w, 2: gr.r, 3: gr.b, 5: gr.h, 6: gr.c, 7: gr.p} {
		if i < len(in) && in[i] != nil {
			grads[i] = NewF32(Shape(in[i]), g)
		}
	}
	return grads, nil
}

// lstmGrads are the input gradients, in the inputs' own layouts.
type lstmGrads struct {
	x, w, r, b, p, h, c []float32
}

// backDir runs direction d's steps backwards, adding into gr.
func (l *lstm) backDir(c *lstmCall, d int, tp *lstmTape, gy [3][]float32, gr *lstmGrads) {
	h, g, nb := c.hid, 4*c.hid, c.batch
	f, gAct, hAct := l.acts[3*d], l.acts[3*d+1], l.acts[3*d+2]
	dh := make([]float32, nb*h)
	dhPrev := make([]float32, nb*h)
	dc := make([]float32, nb*h)
	dz := make([]float32, nb*g)
	dgx := make([]float32, c.seq*nb*g) // dz by row of X
	for b := range nb {
		at := l.stateAt(c, d, b)
		if gy[1] != nil {
			copy(dh[b*h:][:h], gy[1][at:][:h])
		}
		if gy[2] != nil {
			copy(dc[b*h:][:h], gy[2][at:][:h])
		}
	}
	var pi, po, pf, dpi, dpo, dpf []float32
	if c.p != nil {
		pi, po, pf = c.p[d*3*h:][:h], c.p[d*3*h+h:][:h], c.p[d*3*h+2*h:][:h]
		dpi, dpo, dpf = gr.p[d*3*h:][:h], gr.p[d*3*h+h:][:h], gr.p[d*3*h+2*h:][:h]
	}
	r := c.r[d*g*h:][:g*h]
	dr := gr.r[d*g*h:][:g*h]
	for s := c.seq - 1; s >= 0; s-- {
		hPrev, cPrev := tp.h[s*nb*h:][:nb*h], tp.c[s*nb*h:][:nb*h]
		cNext := tp.c[(s+1)*nb*h:][:nb*h]
		z, a := tp.z[s*nb*g:][:nb*g], tp.a[s*nb*g:][:nb*g]
		for b := range nb {
			dzb := dz[b*g:][:g]
			t, ok := l.step(c, d, s, b)
			if !ok {
				clear(dzb)
				continue
			}
			dhb, dcb := dh[b*h:][:h], dc[b*h:][:h]
			if gy[0] != nil {
				for j, v := range gy[0][l.yAt(c, t, d, b):][:h] {
					dhb[j] += v
				}
			}
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
			copy(dgx[l.xRow(c, t, b)*g:][:g], dzb)
		}
		// H' feeds every gate through R; rows of ended sequences have dz = 0
		// and keep their gradient as it is.
		gemm(false, false, nb, h, g, 1, dz, r, 0, dhPrev)
		gemm(true, false, g, h, nb, 1, dz, hPrev, 1, dr)
		for b := range nb {
			if _, ok := l.step(c, d, s, b); !ok {
				copy(dhPrev[b*h:][:h], dh[b*h:][:h])
			}
		}
		dh, dhPrev = dhPrev, dh
	}
	w := c.w[d*g*c.in:][:g*c.in]
	gemm(false, false, c.seq*nb, c.in, g, 1, dgx, w, 1, gr.x)
	gemm(true, false, g, c.in, c.seq*nb, 1, dgx, c.x, 0, gr.w[d*g*c.in:][:g*c.in])
	db := gr.b[d*2*g:][:2*g]
	for row := range c.seq * nb {
		for j, v := range dgx[row*g:][:g] {
			db[j] += v
		}
	}
	copy(db[g:], db[:g]) // Wb and Rb enter the same sum
	for b := range nb {
		at := l.stateAt(c, d, b)
		copy(gr.h[at:][:h], dh[b*h:][:h])
		copy(gr.c[at:][:h], dc[b*h:][:h])
	}
}
