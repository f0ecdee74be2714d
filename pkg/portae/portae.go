// Package portae builds portwatch's own model: a Conv1D-LSTM autoencoder
// over port occupancy, as a complete ONNX file. portae v1 sees the window
// alone; portae v2 (Config.Lags) also looks up, per cell, what its port did
// the round before, an hour before and a day before.
//
// Input `occupancy` float32 [N, T, C, 65536] holds T consecutive rounds of C
// per-port channels; output `reconstruction` float32 [N, C, 65536] is the
// model's rebuild of the window's last round, each value the probability
// that the port is in use on that channel. Per round: Conv (1-D along the
// ports) -> Relu -> MaxPool -> Dropout; the T round codes -> LSTM along
// time -> Gemm bottleneck -> Relu -> Gemm -> Sigmoid. Only standard ops, so
// the file opens unchanged in onnxruntime and Netron.
//
// v2 adds an input `pattern` int64 [N, C, 65536]: per cell, an index into
// the trained offsets `lag.offset` [C*Patterns] (see Pattern), whose value
// is added to the cell's logit before the Sigmoid; the index C*Patterns
// (NoPattern) adds 0, for the cells the term leaves alone. The offsets are
// shared by every port of a channel, so what one service teaches (a
// listener that listened at this minute yesterday is likely to now) holds
// for every other, which a per-port row of weights learns only from that
// port's own few days.
//
// This package is the architecture only. What the file holds besides the
// graph (metadata, calibration, the contract detect checks) is
// pkg/modelfile's, which passes its metadata in through Config.Metadata.
package portae

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"gorgonia.org/tensor"

	"portwatch/pkg/features"
	"portwatch/pkg/nn"
	"portwatch/pkg/onnx"
)

const (
	// Version and VersionLags name the architectures without and with the
	// lag term, in the file's producer_version and (written by
	// pkg/modelfile) its portwatch.version.
	Version     = "portae-v1"
	VersionLags = "portae-v2"
	// Input and Output name the graph's input and output; PatternInput the
	// second input of a v2 graph.
	Input        = "occupancy"
	Output       = "reconstruction"
	PatternInput = "pattern"
	// Ports is the length of the port axis, features.Ports: one value per
	// port number in every channel the features fill.
	Ports = features.Ports
)

// Layer names a Gemm layer's parameters (initializers).
type Layer struct {
	Weight, Bias string
}

// OutputLayer names the parameters of the last Gemm, one row and one bias
// per (channel, port) cell: reconstruction = Sigmoid(Weight · code + Bias).
// Build names them so; code that reaches into a portae graph (detect's
// prior) asks here rather than spelling them.
func OutputLayer() Layer { return Layer{Weight: "decode.weight", Bias: "decode.bias"} }

// LagOffsets names the v2 graph's offsets, [C*Patterns] float32, in the
// order Pattern indexes them.
const LagOffsets = "lag.offset"

// Patterns is the number of lag patterns per channel: the port in use the
// round before or not, times in use, not in use or no round at all an hour
// before, times the same a day before; and two more, Restart and
// Unheralded.
const Patterns = 2*3*3 + 2

// Lag states of Pattern's hour and day arguments.
const (
	Absent = iota
	Present
	NoRound
)

// Pattern returns the pattern input's value for a cell of channel c whose
// port was in use the round before (before) and had state hour and day
// (Absent, Present or NoRound) an hour and a day before.
func Pattern(c int, before bool, hour, day int) int64 {
	p := int64(c*Patterns + 2*hour + 6*day)
	if before {
		p++
	}
	return p
}

// Restart returns the pattern input's value for a cell of channel c of a
// service nearly always listening, in use the round before and not a day
// before: a nightly restart, expected at its minute.
func Restart(c int) int64 { return int64(c*Patterns + 2*3*3) }

// Unheralded returns the pattern input's value for a cell of channel c of
// a listener that starts only with a precedent (it was in use an hour or a
// day before), not in use the round before, an hour before or a day
// before: were it in use now, it would be at a time it never keeps.
func Unheralded(c int) int64 { return int64(c*Patterns + 2*3*3 + 1) }

// NoPattern returns the pattern input's value that adds nothing to a cell,
// for a graph of channels channels.
func NoPattern(channels int) int64 { return int64(channels * Patterns) }

// Sizes of the layers. Conv blocks of 64 ports (1024 per round), max over
// 4 blocks: 8 filters x 256 = 2048 features per round, small enough that the
// LSTM's input projection stays cheap at batch 60 yet each feature still
// covers only 256 ports. The 16-wide bottleneck feeds the one big layer,
// 16 x C x 65536 weights, so it sets most of the cost of a step.
const (
	Filters    = 8
	Kernel     = 64
	Pool       = 4
	Hidden     = 32
	Bottleneck = 16
	// DropoutRatio drops round codes while training.
	DropoutRatio = 0.1
	// Prior is the occupancy an untrained model predicts for every port:
	// the last Gemm's bias starts at its logit, so a fresh model says
	// "mostly empty" rather than noise.
	Prior = 1e-3
)

// DefaultWindow is the window of a Config without one.
const DefaultWindow = 10

// Config chooses the window, the channels and the initial weights.
type Config struct {
	Window int // rounds per window, T (default DefaultWindow)
	// Channels names the C channels (default features.OccupancyChannels(),
	// the three a scan fills; detect always passes its own list).
	Channels []string
	Seed     uint64      // seeds the initial weights
	Metadata []onnx.Prop // written as the file's metadata_props
	// Lags builds v2: the pattern input and its offsets, all 0 at first.
	Lags bool
}

// Build returns a fresh, untrained portae v1 (v2 with Lags) as a serialized
// ONNX model.
func Build(cfg Config) ([]byte, error) {
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Channels == nil {
		cfg.Channels = features.OccupancyChannels()
	}
	if cfg.Window < 1 {
		return nil, fmt.Errorf("build portae: window %d, want at least 1", cfg.Window)
	}
	if len(cfg.Channels) == 0 {
		return nil, errors.New("build portae: no channels")
	}
	for _, c := range cfg.Channels {
		if c == "" || strings.Contains(c, ",") {
			return nil, fmt.Errorf("build portae: bad channel name %q", c)
		}
	}
	spec := graph(cfg)
	b, err := onnx.Encode(spec)
	if err != nil {
		return nil, fmt.Errorf("build portae: %w", err)
	}
	return b, nil
}

func graph(cfg Config) *onnx.Spec {
	t, c := int64(cfg.Window), int64(len(cfg.Channels))
	positions := int64(Ports / Kernel / Pool)
	features := int64(Filters) * positions
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x706f72746165)) // "portae"
	uniform := func(bound float64, shape ...int) *tensor.Dense {
		v := make([]float32, nn.Size(shape))
		for i := range v {
			v[i] = float32((rng.Float64()*2 - 1) * bound)
		}
		return nn.NewF32(shape, v)
	}
	fill := func(x float32, shape ...int) *tensor.Dense {
		v := make([]float32, nn.Size(shape))
		for i := range v {
			v[i] = x
		}
		return nn.NewF32(shape, v)
	}
	ints := func(v ...int64) *tensor.Dense { return nn.NewI64([]int{len(v)}, v) }

	h, cp := int(Hidden), int(c)*Ports
	out := OutputLayer()
	// PyTorch's default init: uniform within 1/sqrt(fan in).
	inits := []onnx.NamedTensor{
		{Name: "conv.weight", Tensor: uniform(1/math.Sqrt(float64(c*Kernel)), Filters, int(c), Kernel)},
		{Name: "conv.bias", Tensor: uniform(1/math.Sqrt(float64(c*Kernel)), Filters)},
		{Name: "lstm.W", Tensor: uniform(1/math.Sqrt(Hidden), 1, 4*h, int(features))},
		{Name: "lstm.R", Tensor: uniform(1/math.Sqrt(Hidden), 1, 4*h, h)},
		{Name: "lstm.B", Tensor: uniform(1/math.Sqrt(Hidden), 1, 8*h)},
		{Name: "encode.weight", Tensor: uniform(1/math.Sqrt(Hidden), Bottleneck, h)},
		{Name: "encode.bias", Tensor: uniform(1/math.Sqrt(Hidden), Bottleneck)},
		{Name: out.Weight, Tensor: uniform(1/math.Sqrt(Bottleneck), cp, Bottleneck)},
		{Name: out.Bias, Tensor: fill(float32(math.Log(Prior/(1-Prior))), cp)},
		{Name: "shape.rounds", Tensor: ints(-1, c, Ports)},
		{Name: "shape.codes", Tensor: ints(-1, t, features)},
		{Name: "shape.out", Tensor: ints(-1, c, Ports)},
		{Name: "axes.dir", Tensor: ints(0)},
	}
	ratio := nn.NewF32(nil, []float32{DropoutRatio})
	nodes := []onnx.NodeSpec{
		{Name: "rounds", OpType: "Reshape", Inputs: []string{Input, "shape.rounds"}, Outputs: []string{"rounds"}},
		{Name: "conv", OpType: "Conv", Inputs: []string{"rounds", "conv.weight", "conv.bias"}, Outputs: []string{"conv"},
			Attrs: []onnx.Attr{{Name: "kernel_shape", Value: []int64{Kernel}}, {Name: "strides", Value: []int64{Kernel}}}},
		{Name: "conv.relu", OpType: "Relu", Inputs: []string{"conv"}, Outputs: []string{"conv.relu"}},
		{Name: "pool", OpType: "MaxPool", Inputs: []string{"conv.relu"}, Outputs: []string{"pool"},
			Attrs: []onnx.Attr{{Name: "kernel_shape", Value: []int64{Pool}}, {Name: "strides", Value: []int64{Pool}}}},
		{Name: "dropout.ratio", OpType: "Constant", Outputs: []string{"dropout.ratio"},
			Attrs: []onnx.Attr{{Name: "value", Value: ratio}}},
		{Name: "dropout", OpType: "Dropout", Inputs: []string{"pool", "dropout.ratio"}, Outputs: []string{"dropout"}},
		{Name: "codes", OpType: "Reshape", Inputs: []string{"dropout", "shape.codes"}, Outputs: []string{"codes"}},
		{Name: "time_major", OpType: "Transpose", Inputs: []string{"codes"}, Outputs: []string{"time_major"},
			Attrs: []onnx.Attr{{Name: "perm", Value: []int64{1, 0, 2}}}},
		{Name: "lstm", OpType: "LSTM", Inputs: []string{"time_major", "lstm.W", "lstm.R", "lstm.B"}, Outputs: []string{"", "lstm.h"},
			Attrs: []onnx.Attr{{Name: "hidden_size", Value: int64(Hidden)}}},
		{Name: "state", OpType: "Squeeze", Inputs: []string{"lstm.h", "axes.dir"}, Outputs: []string{"state"}},
		{Name: "encode", OpType: "Gemm", Inputs: []string{"state", "encode.weight", "encode.bias"}, Outputs: []string{"encode"},
			Attrs: []onnx.Attr{{Name: "transB", Value: int64(1)}}},
		{Name: "encode.relu", OpType: "Relu", Inputs: []string{"encode"}, Outputs: []string{"encode.relu"}},
		{Name: "decode", OpType: "Gemm", Inputs: []string{"encode.relu", out.Weight, out.Bias}, Outputs: []string{"decode"},
			Attrs: []onnx.Attr{{Name: "transB", Value: int64(1)}}},
	}
	logits, version := "decode", Version
	inputs := []onnx.ValueInfo{{Name: Input, ElemType: onnx.TypeFloat,
		Dims: []onnx.Dim{{Param: "N"}, {Value: t}, {Value: c}, {Value: Ports}}}}
	if cfg.Lags {
		// The offsets and one constant 0 after them, the value of NoPattern.
		inits = append(inits,
			onnx.NamedTensor{Name: LagOffsets, Tensor: fill(0, int(c)*Patterns)},
			onnx.NamedTensor{Name: "shape.cells", Tensor: ints(-1, c*Ports)})
		nodes = append(nodes,
			onnx.NodeSpec{Name: "lag.none", OpType: "Constant", Outputs: []string{"lag.none"},
				Attrs: []onnx.Attr{{Name: "value", Value: nn.NewF32([]int{1}, []float32{0})}}},
			onnx.NodeSpec{Name: "lag.table", OpType: "Concat", Inputs: []string{LagOffsets, "lag.none"}, Outputs: []string{"lag.table"},
				Attrs: []onnx.Attr{{Name: "axis", Value: int64(0)}}},
			onnx.NodeSpec{Name: "lag", OpType: "Gather", Inputs: []string{"lag.table", PatternInput}, Outputs: []string{"lag"}},
			onnx.NodeSpec{Name: "lag.cells", OpType: "Reshape", Inputs: []string{"lag", "shape.cells"}, Outputs: []string{"lag.cells"}},
			onnx.NodeSpec{Name: "decode.lagged", OpType: "Add", Inputs: []string{"decode", "lag.cells"}, Outputs: []string{"decode.lagged"}})
		logits, version = "decode.lagged", VersionLags
		inputs = append(inputs, onnx.ValueInfo{Name: PatternInput, ElemType: onnx.TypeInt64,
			Dims: []onnx.Dim{{Param: "N"}, {Value: c}, {Value: Ports}}})
	}
	nodes = append(nodes,
		onnx.NodeSpec{Name: "decode.sigmoid", OpType: "Sigmoid", Inputs: []string{logits}, Outputs: []string{"decode.sigmoid"}},
		onnx.NodeSpec{Name: "reconstruction", OpType: "Reshape", Inputs: []string{"decode.sigmoid", "shape.out"}, Outputs: []string{Output}})
	return &onnx.Spec{
		IRVersion:       8,
		Opset:           17,
		Producer:        "portwatch",
		ProducerVersion: version,
		GraphName:       "portae",
		Nodes:           nodes,
		Inputs:          inputs,
		Outputs: []onnx.ValueInfo{{Name: Output, ElemType: onnx.TypeFloat,
			Dims: []onnx.Dim{{Param: "N"}, {Value: c}, {Value: Ports}}}},
		Initializers: inits,
		Metadata:     cfg.Metadata,
	}
}
