package nn

import (
	"path/filepath"
	"testing"

	"gorgonia.org/tensor"
)

// TestLSTMBurn runs the LSTM node of a real PyTorch export (weights as
// initializers) against the model's outputs; the graph around it only builds
// zero initial states and squeezes Y's direction axis.
func TestLSTMBurn(t *testing.T) {
	dir := filepath.Join(modelsDir, "burn_lstm")
	nodes, inits, _, _ := readModel(t, filepath.Join(dir, "model.onnx"))
	var node *caseNode
	for i := range nodes {
		if nodes[i].op == "LSTM" {
			node = &nodes[i]
		}
	}
	if node == nil {
		t.Fatal("no LSTM node")
	}
	x := readPB(t, filepath.Join(dir, "test_data_set_0", "input_0.pb"))
	want := readPBs(t, filepath.Join(dir, "test_data_set_0"), "output")
	batch := x.Shape()[1]
	in := []*tensor.Dense{x, inits[node.inputs[1]], inits[node.inputs[2]], inits[node.inputs[3]], nil, ZerosF32(1, batch, 8), ZerosF32(1, batch, 8)}
	op, err := New("LSTM", 14, node.attrs)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := op.Forward(&Pass{}, in)
	if err != nil {
		t.Fatal(err)
	}
	if err := want[0].Reshape(5, 1, batch, 8); err != nil {
		t.Fatal(err)
	}
	for k := range 3 {
		compareTensors(t, "burn output", out[k], want[k], 1e-4, 1e-5)
	}
}

func lstmCases() []rnnCase {
	return []rnnCase{
		{name: "plain", attrs: Attrs{}, seq: 3, batch: 2, in: 3, hid: 2},
		{name: "all-inputs", attrs: Attrs{}, seq: 4, batch: 3, in: 2, hid: 3, bias: true, peep: true, init: true, len: true},
		{name: "reverse-lens", attrs: Attrs{"direction": "reverse"}, seq: 4, batch: 3, in: 2, hid: 2, bias: true, init: true, len: true, lensInt32: true},
		{name: "bidirectional-layout1", attrs: Attrs{"direction": "bidirectional", "layout": int64(1)}, seq: 3, batch: 3, in: 2, hid: 2, bias: true, peep: true, init: true, len: true},
		{name: "input-forget", attrs: Attrs{"input_forget": int64(1)}, seq: 3, batch: 2, in: 2, hid: 2, bias: true, peep: true, init: true},
		{name: "clip", attrs: Attrs{"clip": float32(0.6)}, seq: 3, batch: 2, in: 3, hid: 2, bias: true, peep: true, init: true},
		{name: "activations", attrs: Attrs{
			"direction":        "bidirectional",
			"activations":      []string{"HardSigmoid", "Softsign", "ScaledTanh", "LeakyRelu", "Elu", "Softplus"},
			"activation_alpha": []float32{0.3, 0.8, 0.1, 0.7},
			"activation_beta":  []float32{0.4, 1.2},
		}, seq: 3, batch: 2, in: 2, hid: 2, bias: true, init: true},
		{name: "affine-relu", attrs: Attrs{"activations": []string{"Affine", "Relu", "Tanh"}, "activation_alpha": []float32{0.2}, "activation_beta": []float32{0.5}}, seq: 2, batch: 2, in: 2, hid: 2, bias: true},
	}
}

// refLSTM is a direct float64 transcription of the ONNX LSTM equations.
func refLSTM(t *testing.T, a Attrs, in []*tensor.Dense) (y []float64, states [][]float64) {
	act := refActs(t, "LSTM", a, []string{"Sigmoid", "Tanh", "Tanh"})
	forget, _ := a.Int("input_forget", 0)
	hid := in[2].Shape()[2]
	return refRecurrent(t, a, in, 2, func(d int, x []float64, st [][]float64) [][]float64 {
		hs, cs := st[0], st[1]
		pre := make([]float64, 4*hid)
		for gi := range pre {
			pre[gi] = refAt(t, in[3], d, gi) + refAt(t, in[3], d, 4*hid+gi) + refDot(t, in[1], d, gi, x) + refDot(t, in[2], d, gi, hs)
		}
		hn, cn := make([]float64, hid), make([]float64, hid)
		for j := range hid {
			i := act(d, 0, pre[j]+refAt(t, in[7], d, j)*cs[j])
			f := act(d, 0, pre[2*hid+j]+refAt(t, in[7], d, 2*hid+j)*cs[j])
			if forget == 1 {
				f = 1 - i
			}
			cn[j] = f*cs[j] + i*act(d, 1, pre[3*hid+j])
			o := act(d, 0, pre[hid+j]+refAt(t, in[7], d, hid+j)*cn[j])
			hn[j] = o * act(d, 2, cn[j])
		}
		return [][]float64{hn, cn}
	})
}

func TestLSTMReference(t *testing.T) { checkReference(t, "LSTM", lstmCases(), refLSTM) }

// TestLSTMGrad checks every float input's gradient, sequence_lens aside.
func TestLSTMGrad(t *testing.T) { checkRNNGrad(t, "LSTM", lstmCases()) }

// BenchmarkLSTM: seq 10, batch 60, input 8192, hidden 64, forward only.
func BenchmarkLSTM(b *testing.B) {
	op, err := New("LSTM", 22, Attrs{"hidden_size": int64(64)})
	if err != nil {
		b.Fatal(err)
	}
	in := []*tensor.Dense{randF32(1, -1, 1, 10, 60, 8192), randF32(2, -0.1, 0.1, 1, 256, 8192), randF32(3, -0.1, 0.1, 1, 256, 64), randF32(4, -0.1, 0.1, 1, 512)}
	for b.Loop() {
		if _, _, err := op.Forward(&Pass{}, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLSTMTrain: the BenchmarkLSTM size, forward with tape plus BPTT.
func BenchmarkLSTMTrain(b *testing.B) {
	op, err := New("LSTM", 22, Attrs{"hidden_size": int64(64)})
	if err != nil {
		b.Fatal(err)
	}
	in := []*tensor.Dense{randF32(1, -1, 1, 10, 60, 8192), randF32(2, -0.1, 0.1, 1, 256, 8192), randF32(3, -0.1, 0.1, 1, 256, 64), randF32(4, -0.1, 0.1, 1, 512)}
	gy := []*tensor.Dense{randF32(5, -1, 1, 10, 1, 60, 64), nil, nil}
	for b.Loop() {
		out, saved, err := op.Forward(&Pass{Train: true}, in)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := op.(Differentiable).Backward(in, out, gy, saved); err != nil {
			b.Fatal(err)
		}
	}
}
