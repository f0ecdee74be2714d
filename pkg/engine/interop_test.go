package engine

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"gorgonia.org/tensor"

	"portwatch/pkg/nn"
	"portwatch/pkg/onnx"
	"portwatch/pkg/portae"
)

const ortDir = "../../scripts/ort"

// runORT runs model in onnxruntime-node on the named .pb inputs and returns
// its outputs by name.
func runORT(t *testing.T, model string, inputs map[string]string, outputs []onnx.ValueInfo) map[string]*tensor.Dense {
	t.Helper()
	dir := t.TempDir()
	args := []string{filepath.Join(ortDir, "run.js"), model, "--output-dir", dir}
	for name, path := range inputs {
		args = append(args, "--input", name+"="+path)
	}
	out, err := exec.Command("node", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("onnxruntime-node: %v\n%s", err, out)
	}
	got := map[string]*tensor.Dense{}
	for _, o := range outputs {
		_, v, err := readTensor(filepath.Join(dir, o.Name+".pb"))
		if err != nil {
			t.Fatal(err)
		}
		got[o.Name] = v
	}
	return got
}

func needORT(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed: cannot compare with onnxruntime-node")
	}
	if _, err := os.Stat(filepath.Join(ortDir, "node_modules", "onnxruntime-node")); err != nil {
		t.Skip("onnxruntime-node missing: run `bash scripts/deps.sh`")
	}
}

// sparseOccupancy makes n windows with a few dozen occupied ports a round.
func sparseOccupancy(n, window, channels int, seed uint64) *tensor.Dense {
	rng := rand.New(rand.NewPCG(seed, 2))
	x := nn.ZerosF32(n, window, channels, portae.Ports)
	v := x.Float32s()
	for round := 0; round < n*window*channels; round++ {
		for range 30 {
			v[round*portae.Ports+rng.IntN(portae.Ports)] = 1
		}
	}
	return x
}

// TestInteropORT: a portae model the project writes, v1 and v2 (its lag
// term), fresh and after training steps, gives the same outputs in
// onnxruntime-node as here; training moves v2's lag offsets.
func TestInteropORT(t *testing.T) {
	needORT(t)
	for _, lags := range []bool{false, true} {
		t.Run(map[bool]string{false: portae.Version, true: portae.VersionLags}[lags], func(t *testing.T) {
			interopORT(t, lags)
		})
	}
}

func interopORT(t *testing.T, lags bool) {
	dir := t.TempDir()
	path := filepath.Join(dir, "portae.onnx")
	b, err := portae.Build(portae.Config{Seed: 11, Lags: lags})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, b); err != nil {
		t.Fatal(err)
	}
	x := sparseOccupancy(2, 10, 3, 1)
	inputs := map[string]*tensor.Dense{portae.Input: x}
	if lags {
		rng := rand.New(rand.NewPCG(5, 6))
		p := make([]int64, 2*3*portae.Ports)
		for i := range p {
			p[i] = rng.Int64N(portae.NoPattern(3) + 1)
		}
		inputs[portae.PatternInput] = nn.NewI64([]int{2, 3, portae.Ports}, p)
	}
	files := map[string]string{}
	for name, v := range inputs {
		pb, err := onnx.AppendTensor(nil, name, v)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = filepath.Join(dir, name+".pb")
		if err := os.WriteFile(files[name], pb, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	compare := func(stage string) {
		m, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Run(inputs)
		if err != nil {
			t.Fatal(err)
		}
		want := runORT(t, path, files, m.Outputs())
		for name, w := range want {
			if err := closeTo(got[name], w, 1e-4, 1e-6); err != nil {
				t.Errorf("%s: %s: %v", stage, name, err)
			}
		}
	}
	compare("fresh")

	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(m, TrainConfig{Loss: BCE, LR: 1e-2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	// Target: each window's last round, as detect trains.
	y := nn.ZerosF32(2, 3, portae.Ports)
	for n := range 2 {
		copy(y.Float32s()[n*3*portae.Ports:(n+1)*3*portae.Ports], x.Float32s()[(n*10+9)*3*portae.Ports:])
	}
	for range 3 {
		if _, err := tr.Step(inputs, y); err != nil {
			t.Fatal(err)
		}
	}
	if lags && !slices.ContainsFunc(m.Params()[portae.LagOffsets].Float32s(), func(v float32) bool { return v != 0 }) {
		t.Errorf("%s: all 0 after training", portae.LagOffsets)
	}
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	compare("trained")
}

// TestRecurrentORT: one-node RNN, GRU and LSTM models with every optional
// input and non-default attributes (layout 0 only: onnxruntime's CPU kernels
// refuse layout 1) give onnxruntime-node's outputs.
func TestRecurrentORT(t *testing.T) {
	needORT(t)
	const seq, batch, nin, hid = 4, 3, 3, 4
	bi := onnx.Attr{Name: "direction", Value: "bidirectional"}
	lbr := onnx.Attr{Name: "linear_before_reset", Value: int64(1)}
	clip := onnx.Attr{Name: "clip", Value: float32(0.7)}
	tests := []struct {
		name, op string
		attrs    []onnx.Attr
	}{
		{"gru", "GRU", nil},
		{"gru-bidirectional-linear-before-reset", "GRU", []onnx.Attr{bi, lbr}},
		{"gru-reverse-clip", "GRU", []onnx.Attr{{Name: "direction", Value: "reverse"}, clip}},
		{"gru-linear-before-reset-clip", "GRU", []onnx.Attr{lbr, clip}},
		{"gru-activations", "GRU", []onnx.Attr{bi,
			{Name: "activations", Value: []string{"HardSigmoid", "Softsign", "Sigmoid", "ScaledTanh"}},
			{Name: "activation_alpha", Value: []float32{0.3, 0.8}},
			{Name: "activation_beta", Value: []float32{0.4, 1.2}}}},
		{"rnn-bidirectional", "RNN", []onnx.Attr{bi}},
		{"rnn-activations-clip", "RNN", []onnx.Attr{clip, {Name: "activations", Value: []string{"Elu"}}, {Name: "activation_alpha", Value: []float32{0.6}}}},
		{"lstm-bidirectional", "LSTM", []onnx.Attr{bi}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dirs := 1
			if slices.Contains(tt.attrs, bi) {
				dirs = 2
			}
			g := map[string]int{"RNN": 1, "GRU": 3, "LSTM": 4}[tt.op] * hid
			rng := rand.New(rand.NewPCG(uint64(i), 5))
			r := func(shape ...int) *tensor.Dense {
				v := make([]float32, nn.Size(shape))
				for k := range v {
					v[k] = float32(rng.Float64()*1.6 - 0.8)
				}
				return nn.NewF32(shape, v)
			}
			x := r(seq, batch, nin)
			inits := []onnx.NamedTensor{
				{Name: "W", Tensor: r(dirs, g, nin)},
				{Name: "R", Tensor: r(dirs, g, hid)},
				{Name: "B", Tensor: r(dirs, 2*g)},
				{Name: "lens", Tensor: tensor.New(tensor.WithShape(batch), tensor.WithBacking([]int32{seq, 1, seq - 1}))},
				{Name: "h0", Tensor: r(dirs, batch, hid)},
			}
			outs := []string{"Y", "Y_h"}
			if tt.op == "LSTM" {
				inits = append(inits, onnx.NamedTensor{Name: "c0", Tensor: r(dirs, batch, hid)}, onnx.NamedTensor{Name: "P", Tensor: r(dirs, 3*hid)})
				outs = append(outs, "Y_c")
			}
			ins := []string{"X"}
			for _, it := range inits {
				ins = append(ins, it.Name)
			}
			var decl []onnx.ValueInfo
			for _, o := range outs {
				decl = append(decl, onnx.ValueInfo{Name: o, ElemType: onnx.TypeFloat})
			}
			b, err := onnx.Encode(&onnx.Spec{
				IRVersion: 8, Opset: 17, Producer: "portwatch-test", GraphName: tt.name,
				Nodes: []onnx.NodeSpec{{Name: tt.op, OpType: tt.op, Inputs: ins, Outputs: outs,
					Attrs: append([]onnx.Attr{{Name: "hidden_size", Value: int64(hid)}}, tt.attrs...)}},
				Inputs:       []onnx.ValueInfo{{Name: "X", ElemType: onnx.TypeFloat, Dims: []onnx.Dim{{Value: seq}, {Value: batch}, {Value: nin}}}},
				Outputs:      decl,
				Initializers: inits,
			})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "model.onnx")
			if err := WriteFile(path, b); err != nil {
				t.Fatal(err)
			}
			m, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Run(map[string]*tensor.Dense{"X": x})
			if err != nil {
				t.Fatal(err)
			}
			pb, err := onnx.AppendTensor(nil, "X", x)
			if err != nil {
				t.Fatal(err)
			}
			in := filepath.Join(dir, "x.pb")
			if err := os.WriteFile(in, pb, 0o600); err != nil {
				t.Fatal(err)
			}
			for name, want := range runORT(t, path, map[string]string{"X": in}, m.Outputs()) {
				if err := closeTo(got[name], want, 1e-4, 1e-5); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		})
	}
}
