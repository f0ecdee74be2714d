package nn

import (
	"fmt"
	"math/rand/v2"

	"gorgonia.org/tensor"
)

// dropout zeroes elements with probability ratio while training and scales
// the rest by 1/(1-ratio); at inference it passes the input through.
type dropout struct {
	opset  int
	ratio  float32 // attribute before opset 12, default for the input after
	isTest bool    // opset < 7: inference whatever the pass says
	seed   int64   // opset >= 12: draws when the Pass brings no Rand
}

// dropoutSaved is what Backward needs from a training pass.
type dropoutSaved struct {
	mask  []bool
	scale float32
}

var _ Differentiable = (*dropout)(nil)

func newDropout(opset int, a Attrs) (Op, error) {
	var known []string
	switch {
	case opset < 7:
		known = []string{"ratio", "is_test"}
	case opset < 12:
		known = []string{"ratio"}
	default:
		known = []string{"seed"}
	}
	if err := a.Check("Dropout", known...); err != nil {
		return nil, err
	}
	d := &dropout{opset: opset}
	var err error
	if d.ratio, err = a.Float("ratio", 0.5); err != nil {
		return nil, fmt.Errorf("Dropout: %w", err)
	}
	isTest, err := a.Int("is_test", 0)
	if err != nil {
		return nil, fmt.Errorf("Dropout: %w", err)
	}
	d.isTest = isTest != 0
	if d.seed, err = a.Int("seed", 0); err != nil {
		return nil, fmt.Errorf("Dropout: %w", err)
	}
	return d, nil
}

// mode reads the optional ratio and training_mode inputs (opset >= 12).
func (d *dropout) mode(p *Pass, in []*tensor.Dense) (ratio float32, train bool, err error) {
	ratio, train = d.ratio, p.Train && !d.isTest
	if len(in) > 1 && in[1] != nil {
		if Size(Shape(in[1])) != 1 {
			return 0, false, fmt.Errorf("Dropout: ratio of shape %v is not a scalar", Shape(in[1]))
		}
		switch v := backing(in[1]).(type) {
		case []float32:
			ratio = v[0]
		case []float64:
			ratio = float32(v[0])
		default:
			return 0, false, &UnsupportedError{Op: "Dropout", Reason: fmt.Sprintf("ratio of type %v", in[1].Dtype())}
		}
	}
	if len(in) > 2 && in[2] != nil {
		v, ok := backing(in[2]).([]bool)
		if !ok || len(v) != 1 {
			return 0, false, fmt.Errorf("Dropout: training_mode must be a bool scalar, got %v %v", in[2].Dtype(), Shape(in[2]))
		}
		train = train || v[0]
	}
	if ratio < 0 || ratio >= 1 {
		return 0, false, fmt.Errorf("Dropout: ratio %v outside [0, 1)", ratio)
	}
	return ratio, train, nil
}

func (d *dropout) Forward(p *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	if len(in) == 0 || in[0] == nil {
		return nil, nil, fmt.Errorf("Dropout: missing data input")
	}
	x, err := F32(in[0])
	if err != nil {
		return nil, nil, &UnsupportedError{Op: "Dropout", Reason: err.Error()}
	}
	ratio, train, err := d.mode(p, in)
	if err != nil {
		return nil, nil, err
	}
	keep := make([]bool, len(x))
	if !train || ratio == 0 {
		for i := range keep {
			keep[i] = true
		}
		return []*tensor.Dense{in[0], d.mask(Shape(in[0]), keep)}, nil, nil
	}
	rng := p.Rand
	if rng == nil {
		rng = rand.New(rand.NewPCG(uint64(d.seed), 0))
	}
	scale := 1 / (1 - ratio)
	y := make([]float32, len(x))
	for i, v := range x {
		if rng.Float32() >= ratio {
			keep[i] = true
			y[i] = v * scale
		}
	}
	out := []*tensor.Dense{NewF32(Shape(in[0]), y), d.mask(Shape(in[0]), keep)}
	return out, &dropoutSaved{mask: keep, scale: scale}, nil
}

// mask is bool from opset 10 on and float 1/0 before.
func (d *dropout) mask(shape []int, keep []bool) *tensor.Dense {
	if d.opset >= 10 {
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(keep))
	}
	m := make([]float32, len(keep))
	for i, k := range keep {
		if k {
			m[i] = 1
		}
	}
	return NewF32(shape, m)
}

func (d *dropout) Backward(in, _, gradOut []*tensor.Dense, saved any) ([]*tensor.Dense, error) {
	gradIn := make([]*tensor.Dense, len(in))
	if gradOut[0] == nil {
		return gradIn, nil
	}
	s, ok := saved.(*dropoutSaved)
	if !ok {
		// inference: the output was the input
		gradIn[0] = gradOut[0]
		return gradIn, nil
	}
	g := gradOut[0].Float32s()
	if len(g) != len(s.mask) {
		return nil, fmt.Errorf("Dropout: gradient has %d values, mask %d", len(g), len(s.mask))
	}
	gx := make([]float32, len(g))
	for i, k := range s.mask {
		if k {
			gx[i] = g[i] * s.scale
		}
	}
	gradIn[0] = NewF32(Shape(in[0]), gx)
	return gradIn, nil
}
