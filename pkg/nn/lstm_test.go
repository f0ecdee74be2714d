package nn

import (
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"gorgonia.org/tensor"
)

func TestLSTMConformance(t *testing.T) {
	for _, name := range []string{"test_lstm_defaults", "test_lstm_with_initial_bias", "test_lstm_with_peepholes", "test_lstm_batchwise"} {
		t.Run(name, func(t *testing.T) { runCase(t, filepath.Join(conformanceDir, name), 1e-3, 1e-7) })
	}
}

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

// lstmCase is a small LSTM configuration for the reference and gradient tests.
type lstmCase struct {
	name                  string
	attrs                 Attrs
	seq, batch, in, hid   int
	bias, peep, init, len bool
	lensInt32             bool
}

func lstmCases() []lstmCase {
	return []lstmCase{
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

// inputs draws the case's inputs; optional ones left out are nil.
func (tc lstmCase) inputs(rng *rand.Rand) []*tensor.Dense {
	dirs := 1
	if tc.attrs["direction"] == "bidirectional" {
		dirs = 2
	}
	r := func(shape ...int) *tensor.Dense { return randF32(rng.Uint64(), -0.8, 0.8, shape...) }
	in := make([]*tensor.Dense, 8)
	xs, ss := []int{tc.seq, tc.batch, tc.in}, []int{dirs, tc.batch, tc.hid}
	if tc.attrs["layout"] == int64(1) {
		xs, ss = []int{tc.batch, tc.seq, tc.in}, []int{tc.batch, dirs, tc.hid}
	}
	in[0], in[1], in[2] = r(xs...), r(dirs, 4*tc.hid, tc.in), r(dirs, 4*tc.hid, tc.hid)
	if tc.bias {
		in[3] = r(dirs, 8*tc.hid)
	}
	if tc.len {
		lens := make([]int64, tc.batch)
		for b := range lens {
			lens[b] = int64(tc.seq - b%tc.seq) // full, one short, ...
		}
		lens[tc.batch-1] = 1
		in[4] = NewI64([]int{tc.batch}, lens)
		if tc.lensInt32 {
			l32 := make([]int32, len(lens))
			for i, v := range lens {
				l32[i] = int32(v)
			}
			in[4] = tensor.New(tensor.WithShape(tc.batch), tensor.WithBacking(l32))
		}
	}
	if tc.init {
		in[5], in[6] = r(ss...), r(ss...)
	}
	if tc.peep {
		in[7] = r(dirs, 3*tc.hid)
	}
	return in
}

// refLSTM is a direct float64 transcription of the ONNX LSTM equations,
// one batch entry and one time step at a time, to check the kernel against.
func refLSTM(t *testing.T, a Attrs, in []*tensor.Dense) (y, yh, yc []float64) {
	t.Helper()
	at := func(v *tensor.Dense, idx ...int) float64 {
		if v == nil {
			return 0
		}
		x, err := v.At(idx...)
		if err != nil {
			t.Fatal(err)
		}
		switch x := x.(type) {
		case float32:
			return float64(x)
		case int32:
			return float64(x)
		default:
			return float64(x.(int64))
		}
	}
	dir, _ := a.String("direction", "forward")
	layout, _ := a.Int("layout", 0)
	clip, _ := a.Float("clip", 0)
	forget, _ := a.Int("input_forget", 0)
	dirs := 1
	if dir == "bidirectional" {
		dirs = 2
	}
	names, _ := a.Strings("activations", []string{"Sigmoid", "Tanh", "Tanh", "Sigmoid", "Tanh", "Tanh"}[:3*dirs])
	alphas, _ := a.Floats("activation_alpha", nil)
	betas, _ := a.Floats("activation_beta", nil)
	acts, err := parseActs("LSTM", names, alphas, betas)
	if err != nil {
		t.Fatal(err)
	}
	act := func(k int, v float64) float64 {
		if clip > 0 {
			v = math.Max(-float64(clip), math.Min(float64(clip), v))
		}
		return float64(acts[k].f(float32(v)))
	}
	xs := in[0].Shape()
	seq, batch, nin := xs[0], xs[1], xs[2]
	if layout == 1 {
		seq, batch = batch, seq
	}
	hid := in[2].Shape()[2]
	xAt := func(tm, b, k int) float64 {
		if layout == 1 {
			return at(in[0], b, tm, k)
		}
		return at(in[0], tm, b, k)
	}
	stAt := func(v *tensor.Dense, d, b, j int) float64 {
		if layout == 1 {
			return at(v, b, d, j)
		}
		return at(v, d, b, j)
	}
	y = make([]float64, seq*dirs*batch*hid)
	yh = make([]float64, dirs*batch*hid)
	yc = make([]float64, dirs*batch*hid)
	for d := range dirs {
		for b := range batch {
			n := seq
			if in[4] != nil {
				n = int(at(in[4], b))
			}
			hs, cs := make([]float64, hid), make([]float64, hid)
			for j := range hid {
				hs[j], cs[j] = stAt(in[5], d, b, j), stAt(in[6], d, b, j)
			}
			for s := range n {
				tm := s
				if dir == "reverse" || d == 1 {
					tm = n - 1 - s
				}
				pre := make([]float64, 4*hid)
				for gi := range 4 * hid {
					v := at(in[3], d, gi) + at(in[3], d, 4*hid+gi)
					for k := range nin {
						v += xAt(tm, b, k) * at(in[1], d, gi, k)
					}
					for k := range hid {
						v += hs[k] * at(in[2], d, gi, k)
					}
					pre[gi] = v
				}
				hn, cn := make([]float64, hid), make([]float64, hid)
				for j := range hid {
					i := act(3*d, pre[j]+at(in[7], d, j)*cs[j])
					f := act(3*d, pre[2*hid+j]+at(in[7], d, 2*hid+j)*cs[j])
					if forget == 1 {
						f = 1 - i
					}
					cn[j] = f*cs[j] + i*act(3*d+1, pre[3*hid+j])
					o := act(3*d, pre[hid+j]+at(in[7], d, hid+j)*cn[j])
					hn[j] = o * act(3*d+2, cn[j])
				}
				hs, cs = hn, cn
				for j := range hid {
					if layout == 1 {
						y[((b*seq+tm)*dirs+d)*hid+j] = hs[j]
					} else {
						y[((tm*dirs+d)*batch+b)*hid+j] = hs[j]
					}
				}
			}
			for j := range hid {
				k := (d*batch+b)*hid + j
				if layout == 1 {
					k = (b*dirs+d)*hid + j
				}
				yh[k], yc[k] = hs[j], cs[j]
			}
		}
	}
	return y, yh, yc
}

// eachLSTMCase runs fn on every lstmCase with fresh inputs and its op.
func eachLSTMCase(t *testing.T, seed uint64, fn func(t *testing.T, tc lstmCase, op Differentiable, in []*tensor.Dense)) {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for _, tc := range lstmCases() {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.inputs(rng)
			op, err := New("LSTM", 22, tc.attrs)
			if err != nil {
				t.Fatal(err)
			}
			fn(t, tc, op.(Differentiable), in)
		})
	}
}

func TestLSTMReference(t *testing.T) {
	eachLSTMCase(t, 13, func(t *testing.T, tc lstmCase, op Differentiable, in []*tensor.Dense) {
		out, _, err := op.Forward(&Pass{}, in)
		if err != nil {
			t.Fatal(err)
		}
		y, yh, yc := refLSTM(t, tc.attrs, in)
		for k, want := range [][]float64{y, yh, yc} {
			got := out[k].Float32s()
			if len(got) != len(want) {
				t.Fatalf("output %d: %d values, want %d", k, len(got), len(want))
			}
			for i := range want {
				if math.Abs(float64(got[i])-want[i]) > 1e-5+1e-4*math.Abs(want[i]) {
					t.Errorf("output %d [%d]: got %g, want %g", k, i, got[i], want[i])
				}
			}
		}
	})
}

// TestLSTMGrad checks every float input's gradient, sequence_lens aside.
func TestLSTMGrad(t *testing.T) {
	eachLSTMCase(t, 15, func(t *testing.T, _ lstmCase, op Differentiable, in []*tensor.Dense) {
		var wrt []int
		for i, v := range in {
			if v != nil && i != 4 {
				wrt = append(wrt, i)
			}
		}
		checkGrad(t, op, func() *Pass { return &Pass{Train: true} }, in, wrt)
	})
}

func TestLSTMErrors(t *testing.T) {
	var ue *UnsupportedError
	for _, a := range []Attrs{
		{"activations": []string{"Sigmoid", "Tanh", "Gelu"}},
		{"direction": "sideways"},
		{"output_sequence": int64(1)},
	} {
		if _, err := New("LSTM", 22, a); !errors.As(err, &ue) {
			t.Errorf("%v: got %v, want *UnsupportedError", a, err)
		}
	}
	if _, err := New("LSTM", 13, Attrs{"layout": int64(1)}); !errors.As(err, &ue) {
		t.Errorf("layout at opset 13: got %v, want *UnsupportedError", err)
	}
	if _, err := New("LSTM", 22, Attrs{"activations": []string{"Sigmoid"}}); err == nil {
		t.Error("one activation: no error")
	}
	op, err := New("LSTM", 22, Attrs{"hidden_size": int64(2)})
	if err != nil {
		t.Fatal(err)
	}
	r := func(shape ...int) *tensor.Dense { return randF32(1, -1, 1, shape...) }
	for name, in := range map[string][]*tensor.Dense{
		"W shape":       {r(2, 1, 3), r(1, 8, 2), r(1, 8, 2)},
		"hidden_size":   {r(2, 1, 3), r(1, 12, 3), r(1, 12, 3)},
		"B shape":       {r(2, 1, 3), r(1, 8, 3), r(1, 8, 2), r(1, 8)},
		"lens too long": {r(2, 1, 3), r(1, 8, 3), r(1, 8, 2), nil, NewI64([]int{1}, []int64{3})},
		"lens shape":    {r(2, 1, 3), r(1, 8, 3), r(1, 8, 2), nil, NewI64([]int{2}, []int64{1, 1})},
		"initial_h":     {r(2, 1, 3), r(1, 8, 3), r(1, 8, 2), nil, nil, r(1, 2, 2)},
		"P":             {r(2, 1, 3), r(1, 8, 3), r(1, 8, 2), nil, nil, nil, nil, r(1, 4)},
		"X rank":        {r(2, 3), r(1, 8, 3), r(1, 8, 2)},
	} {
		if _, _, err := op.Forward(&Pass{}, in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := op.(Differentiable).Backward([]*tensor.Dense{r(2, 1, 3), r(1, 8, 3), r(1, 8, 2)}, nil, nil, nil); err == nil {
		t.Error("backward without tape: no error")
	}
}

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
