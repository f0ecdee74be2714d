package nn

import (
	"gorgonia.org/tensor"
)

// rnn is ONNX RNN, H = f(X·Wᵀ + H'·Rᵀ + Wb + Rb): every attribute, every
// optional input, both layouts and all three directions, on the LSTM's
// scheme of one projection gemm per direction and one gemm per step.
type rnn struct {
	recurrent
}

var _ Differentiable = (*rnn)(nil)

func newRNN(opset int, a Attrs) (Op, error) {
	r, err := newRecurrent("RNN", opset, a, 1, []string{"Tanh"})
	if err != nil {
		return nil, err
	}
	return &rnn{recurrent: r}, nil
}

func (n *rnn) Forward(p *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	return forwardH(&n.recurrent, p, in, n.run)
}

// run computes direction d into y and yh and returns its tape, whose z holds
// the activation inputs; gx is scratch for the input projection.
func (n *rnn) run(c *rnnCall, d int, gx, y, yh []float32) *rnnTape {
	h, nb := c.hid, c.batch
	f := n.dirActs(d)[0]
	r := c.r[d*h*h:][:h*h]
	c.project(d, gx, 1)
	tp := c.newTape(d)
	for s := range c.seq {
		hPrev, hNext, z := tp.h[s*nb*h:][:nb*h], tp.h[(s+1)*nb*h:][:nb*h], tp.z[s*nb*h:][:nb*h]
		c.gatherX(d, s, gx, z)
		gemm(false, true, nb, h, h, 1, hPrev, r, 1, z)
		c.carryEnded(d, s, hPrev, hNext)
		for b := range nb {
			t, ok := c.step(d, s, b)
			if !ok {
				continue // Y stays zero
			}
			hn := hNext[b*h:][:h]
			for j, v := range z[b*h:][:h] {
				v, _ = n.clipped(v)
				hn[j] = f.f(v)
			}
			copy(y[c.yAt(t, d, b):][:h], hn)
		}
	}
	c.scatterState(d, tp.h[c.seq*nb*h:], yh)
	return &tp
}

// Backward is backpropagation through time over the forward tape, for X, W,
// R, B and initial_h, as in LSTM.
func (n *rnn) Backward(in, _, gradOut []*tensor.Dense, saved any) ([]*tensor.Dense, error) {
	return backwardH(&n.recurrent, in, gradOut, saved, n.backDir)
}

// backDir runs direction d's steps backwards, adding into gr.
func (n *rnn) backDir(c *rnnCall, d int, tp *rnnTape, gy [][]float32, gr *rnnGrads) {
	h, nb := c.hid, c.batch
	f := n.dirActs(d)[0]
	r, dr := c.r[d*h*h:][:h*h], gr.r[d*h*h:][:h*h]
	dh := make([]float32, nb*h)
	dhPrev := make([]float32, nb*h)
	dz := make([]float32, nb*h)
	dgx := make([]float32, c.seq*nb*h) // dz by row of X
	c.gatherState(d, gy[1], dh)
	for s := c.seq - 1; s >= 0; s-- {
		hPrev, hNext, z := tp.h[s*nb*h:][:nb*h], tp.h[(s+1)*nb*h:][:nb*h], tp.z[s*nb*h:][:nb*h]
		for b := range nb {
			t, ok := c.backStep(d, s, b, gy[0], dh, dz)
			if !ok {
				continue
			}
			dzb, dhb, hn := dz[b*h:][:h], dh[b*h:][:h], hNext[b*h:][:h]
			for j, v := range z[b*h:][:h] {
				dzb[j] = 0
				if v, in := n.clipped(v); in {
					dzb[j] = dhb[j] * f.df(v, hn[j])
				}
			}
			copy(dgx[c.xRow(t, b)*h:][:h], dzb)
		}
		c.backThroughR(d, s, dz, r, hPrev, dh, dhPrev, dr)
		dh, dhPrev = dhPrev, dh
	}
	c.backProject(d, dgx, gr, 1)
	c.scatterState(d, dh, gr.h)
}
