package portae_test

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"portwatch/pkg/engine"
	"portwatch/pkg/features"
	"portwatch/pkg/nn"
	"portwatch/pkg/onnx"
	"portwatch/pkg/portae"
)

func TestBuildDeterministic(t *testing.T) {
	a, err := portae.Build(portae.Config{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	b, err := portae.Build(portae.Config{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	c, err := portae.Build(portae.Config{Seed: 8})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("same seed, different files")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds, same file")
	}
}

func TestBuildBad(t *testing.T) {
	tests := []portae.Config{
		{Window: -1},
		{Channels: []string{}},
		{Channels: []string{"a,b"}},
		{Channels: []string{""}},
	}
	for _, cfg := range tests {
		if _, err := portae.Build(cfg); err == nil {
			t.Errorf("Build(%+v): got no error", cfg)
		}
	}
}

// TestFreshModel loads a fresh model in the engine: the contract's input
// and output, the metadata it was given (pkg/modelfile's keys are tested
// there), and an untrained prediction of "mostly empty".
func TestFreshModel(t *testing.T) {
	tests := []struct {
		window   int
		channels []string
	}{
		{0, nil},
		{4, []string{"tcp_listen", "udp_bound"}},
	}
	for _, tt := range tests {
		props := []onnx.Prop{{Key: "a", Value: "1"}, {Key: "b", Value: fmt.Sprint(tt.window)}}
		b, err := portae.Build(portae.Config{Window: tt.window, Channels: tt.channels, Seed: 1, Metadata: props})
		if err != nil {
			t.Fatal(err)
		}
		m, err := engine.Decode(b, "fresh.onnx")
		if err != nil {
			t.Fatal(err)
		}
		window, channels := tt.window, tt.channels
		if window == 0 {
			window, channels = portae.DefaultWindow, features.OccupancyChannels()
		}
		in, out := m.Inputs(), m.Outputs()
		if len(in) != 1 || in[0].Name != portae.Input || engine.FormatDims(in[0].Dims) != formatDims("N", window, len(channels), portae.Ports) {
			t.Errorf("inputs: got %+v", in)
		}
		if len(out) != 1 || out[0].Name != portae.Output || engine.FormatDims(out[0].Dims) != formatDims("N", len(channels), portae.Ports) {
			t.Errorf("outputs: got %+v", out)
		}
		if got, want := m.Metadata(), map[string]string{"a": "1", "b": fmt.Sprint(tt.window)}; !maps.Equal(got, want) {
			t.Errorf("metadata: got %v, want %v", got, want)
		}

		x := nn.ZerosF32(2, window, len(channels), portae.Ports)
		x.Float32s()[12345] = 1
		got, err := m.Run(map[string]*tensor.Dense{portae.Input: x})
		if err != nil {
			t.Fatal(err)
		}
		y := got[portae.Output]
		if shape := nn.Shape(y); !slices.Equal(shape, []int{2, len(channels), portae.Ports}) {
			t.Fatalf("output shape: got %v", shape)
		}
		var sum float64
		for _, v := range y.Float32s() {
			sum += float64(v)
		}
		if mean := sum / float64(len(y.Float32s())); mean > 0.05 {
			t.Errorf("untrained mean occupancy: got %.4f, want near the prior %g", mean, portae.Prior)
		}
	}
}

func formatDims(dims ...any) string {
	s := make([]string, len(dims))
	for i, d := range dims {
		s[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(s, ",") + "]"
}

// TestOutputLayer: the names OutputLayer gives are the parameters of the
// output Gemm Build makes, shaped one row and one bias per cell, so detect's
// prior finds them after any rename.
func TestOutputLayer(t *testing.T) {
	b, err := portae.Build(portae.Config{Window: 2, Channels: []string{"tcp_listen", "udp_bound"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := engine.Decode(b, "fresh.onnx")
	if err != nil {
		t.Fatal(err)
	}
	out, params := portae.OutputLayer(), m.Params()
	w, bias := params[out.Weight], params[out.Bias]
	if w == nil || bias == nil {
		t.Fatalf("params %s, %s: got %v, %v, want both", out.Weight, out.Bias, w != nil, bias != nil)
	}
	cells := 2 * portae.Ports
	if got, want := nn.Shape(w), []int{cells, portae.Bottleneck}; !slices.Equal(got, want) {
		t.Errorf("%s shape: got %v, want %v", out.Weight, got, want)
	}
	if got, want := nn.Shape(bias), []int{cells}; !slices.Equal(got, want) {
		t.Errorf("%s shape: got %v, want %v", out.Bias, got, want)
	}
}
