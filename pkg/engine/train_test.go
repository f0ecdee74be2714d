package engine

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gorgonia.org/tensor"

	"portwatch/pkg/nn"
	"portwatch/pkg/nn/nntest"
	"portwatch/pkg/portae"
)

const burnLSTM = "../../../shared/onnx-models/burn_lstm"

func loadBurn(t *testing.T) (*Model, map[string]*tensor.Dense) {
	t.Helper()
	m, err := Load(filepath.Join(burnLSTM, "model.onnx"))
	if err != nil {
		if os.IsNotExist(err) {
			t.Skipf("model not found: %v", err)
		}
		t.Fatal(err)
	}
	sets, err := readDataSets(burnLSTM, m)
	if err != nil || len(sets) == 0 {
		t.Fatalf("data sets: %v", err)
	}
	return m, sets[0].inputs
}

// burnWithTarget loads the PyTorch LSTM with its test input and a random
// target for its "output".
func burnWithTarget(t *testing.T, seed uint64) (*Model, map[string]*tensor.Dense, *tensor.Dense) {
	t.Helper()
	m, inputs := loadBurn(t)
	out, err := m.Run(inputs)
	if err != nil {
		t.Fatal(err)
	}
	return m, inputs, randomLike(out["output"], seed)
}

func randomLike(t *tensor.Dense, seed uint64) *tensor.Dense {
	rng := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, t.Shape().TotalSize())
	for i := range v {
		v[i] = float32(rng.Float64())
	}
	return nn.NewF32(nn.Shape(t), v)
}

// TestGradients compares the engine's backward pass through a whole
// foreign graph (PyTorch's LSTM export: Shape, Gather, Concat, Expand,
// LSTM, Squeeze) with central finite differences of the loss.
func TestGradients(t *testing.T) {
	m, inputs, target := burnWithTarget(t, 3)
	loss := func() float64 {
		got, err := m.Run(inputs)
		if err != nil {
			t.Fatal(err)
		}
		l, _, err := nn.MSE(got["output"], target)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	tr, err := m.forward(&nn.Pass{Train: true}, inputs, true)
	if err != nil {
		t.Fatal(err)
	}
	_, g, err := nn.MSE(tr.values["output"], target)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := m.backward(tr, m.gradPath(), "output", g)
	if err != nil {
		t.Fatal(err)
	}
	params := m.Params()
	if len(params) == 0 {
		t.Fatal("no parameters")
	}
	for name, p := range params {
		if grads[name] == nil {
			t.Errorf("%s: no gradient", name)
			continue
		}
		w, gw := p.Float32s(), grads[name].Float32s()
		for _, i := range []int{0, len(w) / 3, len(w) - 1} {
			num := nntest.CentralDifference(w, i, 1e-2, loss)
			if d := math.Abs(num - float64(gw[i])); d > 1e-3*math.Max(1e-2, math.Abs(num))+1e-5 {
				t.Errorf("%s[%d]: backward %.6g, finite difference %.6g", name, i, gw[i], num)
			}
		}
	}
}

// TestTrainDeterministic: the same seed gives the same losses and weights;
// the loss falls on a batch it is trained on.
func TestTrainDeterministic(t *testing.T) {
	b, err := portae.Build(portae.Config{Window: 3, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	x := nn.ZerosF32(2, 3, 3, portae.Ports)
	y := nn.ZerosF32(2, 3, portae.Ports)
	xs, ys := x.Float32s(), y.Float32s()
	for _, p := range []int{22, 80, 443, 5353, 40000} {
		for n := 0; n < 2; n++ {
			for r := 0; r < 3; r++ {
				xs[((n*3+r)*3)*portae.Ports+p] = 1
			}
			ys[(n*3)*portae.Ports+p] = 1
		}
	}
	run := func() ([]float64, []float32) {
		m, err := Decode(b, "portae")
		if err != nil {
			t.Fatal(err)
		}
		tr, err := NewTrainer(m, TrainConfig{Loss: BCE, LR: 1e-2, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		var losses []float64
		for range 4 {
			l, err := tr.Step(map[string]*tensor.Dense{portae.Input: x}, y)
			if err != nil {
				t.Fatal(err)
			}
			losses = append(losses, l)
		}
		return losses, slices.Clone(m.Params()["decode.bias"].Float32s())
	}
	l1, w1 := run()
	l2, w2 := run()
	if !slices.Equal(l1, l2) || !slices.Equal(w1, w2) {
		t.Errorf("same seed: losses %v and %v, or weights differ", l1, l2)
	}
	if l1[len(l1)-1] >= l1[0] {
		t.Errorf("loss did not fall: %v", l1)
	}
}

// TestTrainForeign trains the PyTorch LSTM export: its float initializers
// move, the loss falls, and the saved file reloads with the new weights.
func TestTrainForeign(t *testing.T) {
	m, inputs, target := burnWithTarget(t, 4)
	tr, err := NewTrainer(m, TrainConfig{Output: "output", LR: 1e-2})
	if err != nil {
		t.Fatal(err)
	}
	var first, last float64
	for i := range 20 {
		l, err := tr.Step(inputs, target)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = l
		}
		last = l
	}
	if last >= first {
		t.Errorf("loss: first %g, last %g; want it to fall", first, last)
	}
	path := filepath.Join(t.TempDir(), "lstm.onnx")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	m2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m2.Run(inputs)
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.Run(inputs)
	if err != nil {
		t.Fatal(err)
	}
	if err := closeTo(got["output"], want["output"], 0, 0); err != nil {
		t.Errorf("reloaded model: %v", err)
	}
}

func TestTrainerConfig(t *testing.T) {
	m, _ := loadBurn(t)
	tests := []TrainConfig{
		{Output: "nope"},
		{Loss: "hinge"},
	}
	for _, cfg := range tests {
		if _, err := NewTrainer(m, cfg); err == nil {
			t.Errorf("NewTrainer(%+v): got no error", cfg)
		}
	}
}

func TestTrainRefusesNaN(t *testing.T) {
	m, inputs, target := burnWithTarget(t, 5)
	target.Float32s()[0] = float32(math.NaN())
	tr, err := NewTrainer(m, TrainConfig{Output: "output"})
	if err != nil {
		t.Fatal(err)
	}
	before := map[string][]float32{}
	for name, p := range m.Params() {
		before[name] = slices.Clone(p.Float32s())
	}
	if _, err := tr.Step(inputs, target); err == nil {
		t.Fatal("NaN target: got no error")
	}
	for name, p := range m.Params() {
		if !slices.Equal(before[name], p.Float32s()) {
			t.Errorf("%s changed after a NaN loss", name)
		}
	}
}
