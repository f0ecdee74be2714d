package nn

import (
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"gorgonia.org/tensor"
)

// TestRecurrentConformance runs the official RNN, GRU and LSTM cases.
func TestRecurrentConformance(t *testing.T) {
	for _, name := range []string{
		"test_simple_rnn_defaults", "test_simple_rnn_with_initial_bias", "test_rnn_seq_length", "test_simple_rnn_batchwise",
		"test_gru_defaults", "test_gru_with_initial_bias", "test_gru_seq_length", "test_gru_batchwise",
		"test_lstm_defaults", "test_lstm_with_initial_bias", "test_lstm_with_peepholes", "test_lstm_batchwise",
	} {
		t.Run(name, func(t *testing.T) { runCase(t, filepath.Join(conformanceDir, name), 1e-3, 1e-7) })
	}
}

// rnnCase is a small configuration of RNN, GRU or LSTM for the reference
// and gradient tests; peep (P) is LSTM's only.
type rnnCase struct {
	name                  string
	attrs                 Attrs
	seq, batch, in, hid   int
	bias, peep, init, len bool
	lensInt32             bool
}

// rnnGates is the number of gate blocks in W and R of each op.
var rnnGates = map[string]int{"RNN": 1, "GRU": 3, "LSTM": 4}

// inputs draws the case's inputs for op; optional ones left out are nil.
func (tc rnnCase) inputs(op string, rng *rand.Rand) []*tensor.Dense {
	dirs := 1
	if tc.attrs["direction"] == "bidirectional" {
		dirs = 2
	}
	g := rnnGates[op] * tc.hid
	r := func(shape ...int) *tensor.Dense { return randF32(rng.Uint64(), -0.8, 0.8, shape...) }
	in := make([]*tensor.Dense, 6)
	if op == "LSTM" {
		in = make([]*tensor.Dense, 8)
	}
	xs, ss := []int{tc.seq, tc.batch, tc.in}, []int{dirs, tc.batch, tc.hid}
	if tc.attrs["layout"] == int64(1) {
		xs, ss = []int{tc.batch, tc.seq, tc.in}, []int{tc.batch, dirs, tc.hid}
	}
	in[0], in[1], in[2] = r(xs...), r(dirs, g, tc.in), r(dirs, g, tc.hid)
	if tc.bias {
		in[3] = r(dirs, 2*g)
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
		in[5] = r(ss...)
		if op == "LSTM" {
			in[6] = r(ss...)
		}
	}
	if tc.peep {
		in[7] = r(dirs, 3*tc.hid)
	}
	return in
}

// refAt reads v at idx as float64; 0 when v is absent.
func refAt(t *testing.T, v *tensor.Dense, idx ...int) float64 {
	t.Helper()
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

// refDot is Σ_k m[d, row, k]·vec[k], for W and R.
func refDot(t *testing.T, m *tensor.Dense, d, row int, vec []float64) float64 {
	var s float64
	for k, v := range vec {
		s += refAt(t, m, d, row, k) * v
	}
	return s
}

// refCell is one step of an op's equations for direction d: x is the input
// row, st the states (H, and C for LSTM) before the step; it returns those
// after it.
type refCell func(d int, x []float64, st [][]float64) [][]float64

// refRecurrent runs cell over every direction, batch entry and time step of
// the ONNX recurrence, in float64, and lays out Y and the final states
// (initial states from inputs 5 and 6) as the op does.
func refRecurrent(t *testing.T, a Attrs, in []*tensor.Dense, nStates int, cell refCell) (y []float64, states [][]float64) {
	t.Helper()
	dir, _ := a.String("direction", "forward")
	layout, _ := a.Int("layout", 0)
	dirs := 1
	if dir == "bidirectional" {
		dirs = 2
	}
	xs := in[0].Shape()
	seq, batch, nin := xs[0], xs[1], xs[2]
	if layout == 1 {
		seq, batch = batch, seq
	}
	hid := in[2].Shape()[2]
	// stOff is the offset of [d, b, 0] in a state-shaped value.
	stOff := func(d, b int) int {
		if layout == 1 {
			return (b*dirs + d) * hid
		}
		return (d*batch + b) * hid
	}
	y = make([]float64, seq*dirs*batch*hid)
	states = make([][]float64, nStates)
	for k := range states {
		states[k] = make([]float64, dirs*batch*hid)
	}
	for d := range dirs {
		for b := range batch {
			n := seq
			if in[4] != nil {
				n = int(refAt(t, in[4], b))
			}
			st := make([][]float64, nStates)
			for k := range st {
				st[k] = make([]float64, hid)
				if v := in[5+k]; v != nil {
					for j := range hid {
						st[k][j] = float64(v.Float32s()[stOff(d, b)+j])
					}
				}
			}
			for s := range n {
				tm := s
				if dir == "reverse" || d == 1 {
					tm = n - 1 - s
				}
				x := make([]float64, nin)
				for k := range x {
					if layout == 1 {
						x[k] = refAt(t, in[0], b, tm, k)
					} else {
						x[k] = refAt(t, in[0], tm, b, k)
					}
				}
				st = cell(d, x, st)
				off := ((tm*dirs+d)*batch + b) * hid
				if layout == 1 {
					off = ((b*seq+tm)*dirs + d) * hid
				}
				copy(y[off:][:hid], st[0])
			}
			for k := range st {
				copy(states[k][stOff(d, b):][:hid], st[k])
			}
		}
	}
	return y, states
}

// refActs is act(d, k, v): direction d's k-th activation of the node's
// attributes (perDir the defaults of one direction), clip applied first.
func refActs(t *testing.T, op string, a Attrs, perDir []string) func(d, k int, v float64) float64 {
	t.Helper()
	def := perDir
	if a["direction"] == "bidirectional" {
		def = append(append([]string{}, perDir...), perDir...)
	}
	names, _ := a.Strings("activations", def)
	alphas, _ := a.Floats("activation_alpha", nil)
	betas, _ := a.Floats("activation_beta", nil)
	clip, _ := a.Float("clip", 0)
	acts, err := parseActs(op, names, alphas, betas)
	if err != nil {
		t.Fatal(err)
	}
	return func(d, k int, v float64) float64 {
		if clip > 0 {
			v = math.Max(-float64(clip), math.Min(float64(clip), v))
		}
		return float64(acts[d*len(perDir)+k].f(float32(v)))
	}
}

// refOp is an op's float64 reference: Y and the state outputs.
type refOp func(t *testing.T, a Attrs, in []*tensor.Dense) (y []float64, states [][]float64)

// eachRNNCase runs fn on every case with fresh inputs and its op.
func eachRNNCase(t *testing.T, op string, seed uint64, cases []rnnCase, fn func(t *testing.T, tc rnnCase, o Differentiable, in []*tensor.Dense)) {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.inputs(op, rng)
			o, err := New(op, 22, tc.attrs)
			if err != nil {
				t.Fatal(err)
			}
			fn(t, tc, o.(Differentiable), in)
		})
	}
}

// checkReference compares the kernel's outputs with ref's on every case.
func checkReference(t *testing.T, op string, cases []rnnCase, ref refOp) {
	eachRNNCase(t, op, 13, cases, func(t *testing.T, tc rnnCase, o Differentiable, in []*tensor.Dense) {
		out, _, err := o.Forward(&Pass{}, in)
		if err != nil {
			t.Fatal(err)
		}
		y, states := ref(t, tc.attrs, in)
		for k, want := range append([][]float64{y}, states...) {
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

// checkRNNGrad checks every float input's gradient on every case,
// sequence_lens aside, against finite differences.
func checkRNNGrad(t *testing.T, op string, cases []rnnCase) {
	eachRNNCase(t, op, 15, cases, func(t *testing.T, _ rnnCase, o Differentiable, in []*tensor.Dense) {
		var wrt []int
		for i, v := range in {
			if v != nil && i != 4 {
				wrt = append(wrt, i)
			}
		}
		checkGrad(t, o, func() *Pass { return &Pass{Train: true} }, in, wrt)
	})
}

func TestRecurrentErrors(t *testing.T) {
	r := func(shape ...int) *tensor.Dense { return randF32(1, -1, 1, shape...) }
	tests := []struct {
		op          string
		unsupported []Attrs // New gives *UnsupportedError
		invalid     []Attrs // New gives another error
		// good are valid inputs for hidden_size 2; bad fail in Forward.
		good []*tensor.Dense
		bad  map[string][]*tensor.Dense
	}{
		{
			op:          "LSTM",
			unsupported: []Attrs{{"activations": []string{"Sigmoid", "Tanh", "Gelu"}}, {"direction": "sideways"}, {"output_sequence": int64(1)}, {"linear_before_reset": int64(1)}},
			invalid:     []Attrs{{"activations": []string{"Sigmoid"}}, {"input_forget": int64(2)}, {"clip": float32(-1)}},
			good:        []*tensor.Dense{r(2, 1, 3), r(1, 8, 3), r(1, 8, 2)},
			bad: map[string][]*tensor.Dense{
				"W shape":       {r(2, 1, 3), r(1, 8, 2), r(1, 8, 2)},
				"hidden_size":   {r(2, 1, 3), r(1, 12, 3), r(1, 12, 3)},
				"B shape":       {r(2, 1, 3), r(1, 8, 3), r(1, 8, 2), r(1, 8)},
				"lens too long": {r(2, 1, 3), r(1, 8, 3), r(1, 8, 2), nil, NewI64([]int{1}, []int64{3})},
				"lens shape":    {r(2, 1, 3), r(1, 8, 3), r(1, 8, 2), nil, NewI64([]int{2}, []int64{1, 1})},
				"initial_h":     {r(2, 1, 3), r(1, 8, 3), r(1, 8, 2), nil, nil, r(1, 2, 2)},
				"P":             {r(2, 1, 3), r(1, 8, 3), r(1, 8, 2), nil, nil, nil, nil, r(1, 4)},
				"X rank":        {r(2, 3), r(1, 8, 3), r(1, 8, 2)},
			},
		},
		{
			op:          "GRU",
			unsupported: []Attrs{{"activations": []string{"Sigmoid", "Gelu"}}, {"direction": "sideways"}, {"input_forget": int64(1)}},
			invalid:     []Attrs{{"activations": []string{"Sigmoid", "Tanh", "Tanh"}}, {"linear_before_reset": int64(2)}, {"hidden_size": int64(-1)}},
			good:        []*tensor.Dense{r(2, 1, 3), r(1, 6, 3), r(1, 6, 2)},
			bad: map[string][]*tensor.Dense{
				"W shape":     {r(2, 1, 3), r(1, 8, 3), r(1, 6, 2)},
				"hidden_size": {r(2, 1, 3), r(1, 9, 3), r(1, 9, 3)},
				"B shape":     {r(2, 1, 3), r(1, 6, 3), r(1, 6, 2), r(1, 6)},
				"initial_h":   {r(2, 1, 3), r(1, 6, 3), r(1, 6, 2), nil, nil, r(1, 2, 2)},
				"no R":        {r(2, 1, 3), r(1, 6, 3)},
			},
		},
		{
			op:          "RNN",
			unsupported: []Attrs{{"activations": []string{"Gelu"}}, {"linear_before_reset": int64(1)}},
			invalid:     []Attrs{{"direction": "bidirectional", "activations": []string{"Tanh"}}, {"layout": int64(2)}},
			good:        []*tensor.Dense{r(2, 1, 3), r(1, 2, 3), r(1, 2, 2)},
			bad: map[string][]*tensor.Dense{
				"B shape":       {r(2, 1, 3), r(1, 2, 3), r(1, 2, 2), r(1, 2)},
				"lens int8":     {r(2, 1, 3), r(1, 2, 3), r(1, 2, 2), nil, tensor.New(tensor.WithShape(1), tensor.WithBacking([]int8{1}))},
				"negative lens": {r(2, 1, 3), r(1, 2, 3), r(1, 2, 2), nil, NewI64([]int{1}, []int64{-1})},
			},
		},
	}
	var ue *UnsupportedError
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			for _, a := range append(tt.unsupported, Attrs{"layout": int64(1)}) {
				opset := 22
				if a["layout"] != nil {
					opset = 13 // layout arrived in opset 14
				}
				if _, err := New(tt.op, opset, a); !errors.As(err, &ue) {
					t.Errorf("%v at opset %d: got %v, want *UnsupportedError", a, opset, err)
				}
			}
			for _, a := range tt.invalid {
				if _, err := New(tt.op, 22, a); err == nil || errors.As(err, &ue) {
					t.Errorf("%v: got %v, want an error other than *UnsupportedError", a, err)
				}
			}
			op := mustNew(t, tt.op, 22, Attrs{"hidden_size": int64(2)})
			if _, _, err := op.Forward(&Pass{}, tt.good); err != nil {
				t.Fatalf("good inputs: %v", err)
			}
			for name, in := range tt.bad {
				if _, _, err := op.Forward(&Pass{}, in); err == nil {
					t.Errorf("%s: no error", name)
				}
			}
			if _, err := op.(Differentiable).Backward(tt.good, nil, nil, nil); err == nil {
				t.Error("backward without tape: no error")
			}
		})
	}
}
