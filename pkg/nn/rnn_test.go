package nn

import (
	"testing"

	"gorgonia.org/tensor"
)

func rnnCases() []rnnCase {
	return []rnnCase{
		{name: "plain", attrs: Attrs{}, seq: 3, batch: 2, in: 3, hid: 2},
		{name: "all-inputs", attrs: Attrs{}, seq: 4, batch: 3, in: 2, hid: 3, bias: true, init: true, len: true},
		{name: "reverse-lens", attrs: Attrs{"direction": "reverse"}, seq: 4, batch: 3, in: 2, hid: 2, bias: true, init: true, len: true, lensInt32: true},
		{name: "bidirectional-layout1", attrs: Attrs{"direction": "bidirectional", "layout": int64(1)}, seq: 3, batch: 3, in: 2, hid: 2, bias: true, init: true, len: true},
		{name: "clip", attrs: Attrs{"clip": float32(0.6)}, seq: 3, batch: 2, in: 3, hid: 2, bias: true, init: true},
		{name: "activations", attrs: Attrs{
			"direction":        "bidirectional",
			"activations":      []string{"Elu", "Softsign"},
			"activation_alpha": []float32{0.8},
		}, seq: 3, batch: 2, in: 2, hid: 2, bias: true, init: true},
	}
}

// refRNN is a direct float64 transcription of the ONNX RNN equation.
func refRNN(t *testing.T, a Attrs, in []*tensor.Dense) (y []float64, states [][]float64) {
	act := refActs(t, "RNN", a, []string{"Tanh"})
	hid := in[2].Shape()[2]
	return refRecurrent(t, a, in, 1, func(d int, x []float64, st [][]float64) [][]float64 {
		hn := make([]float64, hid)
		for j := range hn {
			hn[j] = act(d, 0, refDot(t, in[1], d, j, x)+refDot(t, in[2], d, j, st[0])+refAt(t, in[3], d, j)+refAt(t, in[3], d, hid+j))
		}
		return [][]float64{hn}
	})
}

func TestRNNReference(t *testing.T) { checkReference(t, "RNN", rnnCases(), refRNN) }

// TestRNNGrad checks the gradients of X, W, R, B and initial_h.
func TestRNNGrad(t *testing.T) { checkRNNGrad(t, "RNN", rnnCases()) }
