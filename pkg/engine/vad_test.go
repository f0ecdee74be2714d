package engine

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"gorgonia.org/tensor"

	"portwatch/pkg/nn"
	"portwatch/pkg/onnx"
)

// vadModel is shaped like a real voice-activity export (opset 17): reflect
// Pad, the STFT as a strided Conv, magnitude by Pow, ReduceSum and Sqrt,
// mean removal by ReduceMean and Sub, BatchNormalization, four Conv+Relu,
// an LSTM over the frames and a Sigmoid head.
func vadModel(t *testing.T) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 9))
	w := func(shape ...int) *tensor.Dense {
		d := make([]float32, nn.Size(shape))
		for i := range d {
			d[i] = float32(rng.Float64()*2-1) * 0.5
		}
		return nn.NewF32(shape, d)
	}
	positive := func(n int) *tensor.Dense {
		d := make([]float32, n)
		for i := range d {
			d[i] = 0.5 + float32(rng.Float64())
		}
		return nn.NewF32([]int{n}, d)
	}
	i64 := func(v ...int64) *tensor.Dense { return nn.NewI64([]int{len(v)}, v) }
	const bins, hidden, ch = 5, 6, 8
	inits := []onnx.NamedTensor{
		{Name: "pads", Tensor: i64(0, 0, 8, 0, 0, 8)},
		{Name: "stft", Tensor: w(2*bins, 1, 16)},
		{Name: "split", Tensor: i64(0, 2, bins, -1)},
		{Name: "ax1", Tensor: i64(1)},
		{Name: "bn_scale", Tensor: positive(bins)}, {Name: "bn_b", Tensor: w(bins)},
		{Name: "bn_mean", Tensor: w(bins)}, {Name: "bn_var", Tensor: positive(bins)},
		{Name: "W", Tensor: w(1, 4*hidden, ch)}, {Name: "R", Tensor: w(1, 4*hidden, hidden)}, {Name: "B", Tensor: w(1, 8*hidden)},
		{Name: "ax0", Tensor: i64(0)},
		{Name: "head", Tensor: w(hidden, 1)}, {Name: "head_b", Tensor: w(1)},
	}
	nodes := []onnx.NodeSpec{
		{OpType: "Pad", Inputs: []string{"x", "pads"}, Outputs: []string{"padded"}, Attrs: []onnx.Attr{{Name: "mode", Value: "reflect"}}},
		{OpType: "Conv", Inputs: []string{"padded", "stft"}, Outputs: []string{"spec"}, Attrs: []onnx.Attr{{Name: "strides", Value: []int64{8}}}},
		// a Constant, as PyTorch exports x ** 2: training must not move the
		// exponent off an integer while the base is negative
		{OpType: "Constant", Outputs: []string{"two"}, Attrs: []onnx.Attr{{Name: "value", Value: nn.NewF32([]int{}, []float32{2})}}},
		{OpType: "Pow", Inputs: []string{"spec", "two"}, Outputs: []string{"sq"}},
		{OpType: "Reshape", Inputs: []string{"sq", "split"}, Outputs: []string{"reim"}},
		{OpType: "ReduceSum", Inputs: []string{"reim", "ax1"}, Outputs: []string{"power"}, Attrs: []onnx.Attr{{Name: "keepdims", Value: int64(0)}}},
		{OpType: "Sqrt", Inputs: []string{"power"}, Outputs: []string{"mag"}},
		{OpType: "ReduceMean", Inputs: []string{"mag"}, Outputs: []string{"mean"}, Attrs: []onnx.Attr{{Name: "axes", Value: []int64{2}}}},
		{OpType: "Sub", Inputs: []string{"mag", "mean"}, Outputs: []string{"centred"}},
		{OpType: "BatchNormalization", Inputs: []string{"centred", "bn_scale", "bn_b", "bn_mean", "bn_var"}, Outputs: []string{"h0"}},
	}
	prev, in := "h0", bins
	for i, name := range []string{"h1", "h2", "h3", "h4"} {
		wname := name + "_w"
		inits = append(inits, onnx.NamedTensor{Name: wname, Tensor: w(ch, in, 3)}, onnx.NamedTensor{Name: name + "_b", Tensor: positive(ch)})
		stride := int64(1 + i%2)
		nodes = append(nodes,
			onnx.NodeSpec{OpType: "Conv", Inputs: []string{prev, wname, name + "_b"}, Outputs: []string{name + "_c"},
				Attrs: []onnx.Attr{{Name: "pads", Value: []int64{1, 1}}, {Name: "strides", Value: []int64{stride}}}},
			onnx.NodeSpec{OpType: "Relu", Inputs: []string{name + "_c"}, Outputs: []string{name}})
		prev, in = name, ch
	}
	nodes = append(nodes,
		onnx.NodeSpec{OpType: "Transpose", Inputs: []string{prev}, Outputs: []string{"seq"}, Attrs: []onnx.Attr{{Name: "perm", Value: []int64{2, 0, 1}}}},
		onnx.NodeSpec{OpType: "LSTM", Inputs: []string{"seq", "W", "R", "B"}, Outputs: []string{"", "h_n"}, Attrs: []onnx.Attr{{Name: "hidden_size", Value: int64(hidden)}}},
		onnx.NodeSpec{OpType: "Squeeze", Inputs: []string{"h_n", "ax0"}, Outputs: []string{"last"}},
		onnx.NodeSpec{OpType: "MatMul", Inputs: []string{"last", "head"}, Outputs: []string{"logit0"}},
		onnx.NodeSpec{OpType: "Add", Inputs: []string{"logit0", "head_b"}, Outputs: []string{"logit"}},
		onnx.NodeSpec{OpType: "Sigmoid", Inputs: []string{"logit"}, Outputs: []string{"speech"}},
	)
	for i := range nodes {
		nodes[i].Name = nodes[i].OpType + "_" + string(rune('a'+i))
	}
	b, err := onnx.Encode(&onnx.Spec{
		IRVersion: 8, Opset: 17, Producer: "portwatch-test", GraphName: "vad",
		Nodes:        nodes,
		Inputs:       []onnx.ValueInfo{{Name: "x", ElemType: onnx.TypeFloat, Dims: []onnx.Dim{{Param: "N"}, {Value: 1}, {Value: 64}}}},
		Outputs:      []onnx.ValueInfo{{Name: "speech", ElemType: onnx.TypeFloat, Dims: []onnx.Dim{{Param: "N"}, {Value: 1}}}},
		Initializers: inits,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVADExportORT: the voice-activity-shaped model loads, runs, and gives
// onnxruntime-node's outputs.
func TestVADExportORT(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vad.onnx")
	if err := WriteFile(path, vadModel(t)); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	rng := rand.New(rand.NewPCG(8, 1))
	audio := make([]float32, 2*64)
	for i := range audio {
		audio[i] = float32(rng.Float64()*2 - 1)
	}
	x := nn.NewF32([]int{2, 1, 64}, audio)
	got, err := m.Run(map[string]*tensor.Dense{"x": x})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if s := nn.Shape(got["speech"]); len(s) != 2 || s[0] != 2 || s[1] != 1 {
		t.Fatalf("speech shape %v, want [2 1]", s)
	}
	if v := got["speech"].Float32s(); v[0] == v[1] {
		t.Fatalf("speech %v: both inputs give one output, the graph is dead", v)
	}
	// every new op's backward runs inside the graph: a training step moves
	// the output toward the target
	tr, err := NewTrainer(m, TrainConfig{Loss: BCE, LR: 1e-2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Step(map[string]*tensor.Dense{"x": x}, nn.NewF32([]int{2, 1}, []float32{1, 0})); err != nil {
		t.Fatalf("train step: %v", err)
	}
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	if got, err = m.Run(map[string]*tensor.Dense{"x": x}); err != nil {
		t.Fatalf("run after training: %v", err)
	}
	t.Logf("speech after one step: %v", got["speech"].Float32s())
	needORT(t)
	in := filepath.Join(dir, "x.pb")
	pb, err := onnx.AppendTensor(nil, "x", x)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, pb, 0o600); err != nil {
		t.Fatal(err)
	}
	want := runORT(t, path, map[string]string{"x": in}, m.Outputs())
	if err := closeTo(got["speech"], want["speech"], 1e-4, 1e-6); err != nil {
		t.Errorf("speech: %v (got %v, want %v)", err, got["speech"].Float32s(), want["speech"].Float32s())
	}
}
