package nn

import (
	"testing"

	"gorgonia.org/tensor"
)

func gruCases() []rnnCase {
	return []rnnCase{
		{name: "plain", attrs: Attrs{}, seq: 3, batch: 2, in: 3, hid: 2},
		{name: "all-inputs", attrs: Attrs{}, seq: 4, batch: 3, in: 2, hid: 3, bias: true, init: true, len: true},
		{name: "linear-before-reset", attrs: Attrs{"linear_before_reset": int64(1)}, seq: 4, batch: 3, in: 2, hid: 3, bias: true, init: true, len: true},
		{name: "linear-before-reset-no-bias", attrs: Attrs{"linear_before_reset": int64(1)}, seq: 3, batch: 2, in: 2, hid: 2, init: true},
		{name: "reverse-lens", attrs: Attrs{"direction": "reverse"}, seq: 4, batch: 3, in: 2, hid: 2, bias: true, init: true, len: true, lensInt32: true},
		{name: "bidirectional", attrs: Attrs{"direction": "bidirectional"}, seq: 4, batch: 3, in: 2, hid: 2, bias: true, init: true, len: true},
		{name: "bidirectional-linear-before-reset-layout1", attrs: Attrs{"direction": "bidirectional", "linear_before_reset": int64(1), "layout": int64(1)}, seq: 3, batch: 3, in: 2, hid: 2, bias: true, init: true, len: true},
		{name: "clip", attrs: Attrs{"clip": float32(0.6)}, seq: 3, batch: 2, in: 3, hid: 2, bias: true, init: true},
		{name: "clip-linear-before-reset", attrs: Attrs{"clip": float32(0.6), "linear_before_reset": int64(1)}, seq: 3, batch: 2, in: 3, hid: 2, bias: true, init: true},
		{name: "activations", attrs: Attrs{
			"direction":        "bidirectional",
			"activations":      []string{"HardSigmoid", "Softsign", "Elu", "ScaledTanh"},
			"activation_alpha": []float32{0.3, 0.8, 0.7},
			"activation_beta":  []float32{0.4, 1.2},
		}, seq: 3, batch: 2, in: 2, hid: 2, bias: true, init: true},
	}
}

// refGRU is a direct float64 transcription of the ONNX GRU equations.
func refGRU(t *testing.T, a Attrs, in []*tensor.Dense) (y []float64, states [][]float64) {
	act := refActs(t, "GRU", a, []string{"Sigmoid", "Tanh"})
	lbr, _ := a.Int("linear_before_reset", 0)
	hid := in[2].Shape()[2]
	return refRecurrent(t, a, in, 1, func(d int, x []float64, st [][]float64) [][]float64 {
		hs := st[0]
		wb := func(gi int) float64 { return refAt(t, in[3], d, gi) }
		rb := func(gi int) float64 { return refAt(t, in[3], d, 3*hid+gi) }
		z, r := make([]float64, hid), make([]float64, hid)
		rh := make([]float64, hid) // r⊙H
		for j := range hid {
			z[j] = act(d, 0, refDot(t, in[1], d, j, x)+refDot(t, in[2], d, j, hs)+wb(j)+rb(j))
			r[j] = act(d, 0, refDot(t, in[1], d, hid+j, x)+refDot(t, in[2], d, hid+j, hs)+wb(hid+j)+rb(hid+j))
			rh[j] = r[j] * hs[j]
		}
		hn := make([]float64, hid)
		for j := range hid {
			gi := 2*hid + j
			pre := refDot(t, in[1], d, gi, x) + wb(gi)
			if lbr == 1 {
				pre += r[j] * (refDot(t, in[2], d, gi, hs) + rb(gi))
			} else {
				pre += refDot(t, in[2], d, gi, rh) + rb(gi)
			}
			hn[j] = (1-z[j])*act(d, 1, pre) + z[j]*hs[j]
		}
		return [][]float64{hn}
	})
}

func TestGRUReference(t *testing.T) { checkReference(t, "GRU", gruCases(), refGRU) }

// TestGRUGrad checks the gradients of X, W, R, B and initial_h.
func TestGRUGrad(t *testing.T) { checkRNNGrad(t, "GRU", gruCases()) }
