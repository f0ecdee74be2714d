package portae_test

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"portwatch/pkg/engine"
	"portwatch/pkg/nn"
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

// TestFreshModel loads a fresh model in the engine: the contract's input,
// output and metadata, and an untrained prediction of "mostly empty".
func TestFreshModel(t *testing.T) {
	tests := []struct {
		window   int
		channels []string
	}{
		{0, nil},
		{4, []string{"tcp_listen", "udp_bound"}},
	}
	for _, tt := range tests {
		b, err := portae.Build(portae.Config{Window: tt.window, Channels: tt.channels, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		m, err := engine.Decode(b, "fresh.onnx")
		if err != nil {
			t.Fatal(err)
		}
		window, channels := tt.window, tt.channels
		if window == 0 {
			window, channels = 10, portae.DefaultChannels()
		}
		in, out := m.Inputs(), m.Outputs()
		if len(in) != 1 || in[0].Name != portae.Input || engine.FormatDims(in[0].Dims) != formatDims("N", window, len(channels), portae.Ports) {
			t.Errorf("inputs: got %+v", in)
		}
		if len(out) != 1 || out[0].Name != portae.Output || engine.FormatDims(out[0].Dims) != formatDims("N", len(channels), portae.Ports) {
			t.Errorf("outputs: got %+v", out)
		}
		meta := m.Metadata()
		want := map[string]string{
			portae.KeyVersion:       portae.Version,
			portae.KeyChannels:      strings.Join(channels, ","),
			portae.KeyWindow:        strconv.Itoa(window),
			portae.KeyRoundsTrained: "0",
		}
		for k, v := range want {
			if meta[k] != v {
				t.Errorf("metadata %s: got %q, want %q", k, meta[k], v)
			}
		}
		if _, ok := meta[portae.KeyThreshold]; ok {
			t.Error("a fresh model has a threshold")
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
