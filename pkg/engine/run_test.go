package engine

import (
	"slices"
	"testing"

	"gorgonia.org/tensor"

	"portwatch/pkg/portae"
)

// TestRunRecyclesSafely runs one model on a sequence of inputs, so later
// runs write into the buffers earlier ones left (Relu and Sigmoid in place
// among them); each output must equal a fresh model's on the same input,
// and neither the inputs nor a returned output may change afterwards.
func TestRunRecyclesSafely(t *testing.T) {
	data, err := portae.Build(portae.Config{Window: 3, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	decode := func() *Model {
		m, err := Decode(data, "portae")
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	reused := decode()
	var kept []float32 // the first output, held by the caller
	var keptWant []float32
	for i, in := range []struct {
		batch int
		seed  uint64
	}{{2, 1}, {2, 2}, {1, 3}, {2, 1}, {3, 4}} {
		x := sparseOccupancy(in.batch, 3, 3, in.seed)
		before := slices.Clone(x.Float32s())
		got, err := reused.Run(map[string]*tensor.Dense{portae.Input: x})
		if err != nil {
			t.Fatal(err)
		}
		want, err := decode().Run(map[string]*tensor.Dense{portae.Input: x})
		if err != nil {
			t.Fatal(err)
		}
		g, w := got[portae.Output].Float32s(), want[portae.Output].Float32s()
		if !slices.Equal(g, w) {
			t.Errorf("run %d (batch %d): output differs from a fresh model's", i, in.batch)
		}
		if !slices.Equal(x.Float32s(), before) {
			t.Errorf("run %d: the input changed", i)
		}
		if i == 0 {
			kept, keptWant = g, slices.Clone(g)
		}
	}
	if !slices.Equal(kept, keptWant) {
		t.Error("a later run overwrote the output the first returned")
	}
}
