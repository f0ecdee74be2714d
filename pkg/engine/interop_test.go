package engine

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
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

// TestInteropORT: a portae model the project writes, fresh and after
// training steps, gives the same outputs in onnxruntime-node as here.
func TestInteropORT(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "portae.onnx")
	b, err := portae.Build(portae.Config{Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, b); err != nil {
		t.Fatal(err)
	}
	x := sparseOccupancy(2, 10, 3, 1)
	in := filepath.Join(dir, "in.pb")
	pb, err := onnx.AppendTensor(nil, portae.Input, x)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, pb, 0o600); err != nil {
		t.Fatal(err)
	}
	inputs := map[string]*tensor.Dense{portae.Input: x}

	compare := func(stage string) {
		m, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Run(inputs)
		if err != nil {
			t.Fatal(err)
		}
		want := runORT(t, path, map[string]string{portae.Input: in}, m.Outputs())
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
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	compare("trained")
}
