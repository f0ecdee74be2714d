package nn

import (
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

func TestReshape(t *testing.T) {
	x := randF32(1, -1, 1, 2, 3, 4)
	tests := []struct {
		name  string
		opset int
		attrs Attrs
		shape *tensor.Dense
		want  []int
		err   string
	}{
		{"plain", 14, nil, i64([]int{2}, 6, 4), []int{6, 4}, ""},
		{"infer", 14, nil, i64([]int{2}, -1, 2), []int{12, 2}, ""},
		{"copy zero", 14, nil, i64([]int{3}, 0, -1, 2), []int{2, 6, 2}, ""},
		{"int32 shape", 14, nil, tensor.New(tensor.WithShape(1), tensor.WithBacking([]int32{24})), []int{24}, ""},
		{"attribute", 4, Attrs{"shape": []int64{4, 0, -1}}, nil, []int{4, 3, 2}, ""},
		{"two infers", 14, nil, i64([]int{2}, -1, -1), nil, "more than one -1"},
		{"bad size", 14, nil, i64([]int{2}, 5, 5), nil, "does not hold"},
		{"indivisible", 14, nil, i64([]int{2}, 5, -1), nil, "does not divide"},
		{"copy beyond rank", 14, nil, i64([]int{4}, 1, 1, 1, 0), nil, "copies dimension"},
		{"negative", 14, nil, i64([]int{2}, -2, 12), nil, "negative"},
		{"allowzero empty", 14, Attrs{"allowzero": int64(1)}, i64([]int{2}, 0, 24), nil, "does not hold"},
		{"missing", 14, nil, nil, nil, "missing shape"},
		{"float shape", 14, nil, f32([]int{1}, 24), nil, "int64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []*tensor.Dense{x, tt.shape}
			if tt.opset < 5 {
				in = in[:1]
			}
			out, _, err := mustNew(t, "Reshape", tt.opset, tt.attrs).Forward(noRand(), in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "Reshape") {
					t.Fatalf("got error %v, want Reshape: ...%s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantTensor(t, out[0], tt.want, x.Float32s())
			if &out[0].Float32s()[0] != &x.Float32s()[0] {
				t.Error("Reshape copied its data")
			}
		})
	}
	// allowzero keeps a 0 as an empty dimension.
	out := run1(t, "Reshape", 14, Attrs{"allowzero": int64(1)}, f32([]int{0, 3}), i64([]int{3}, 3, 0, 5))
	wantTensor(t, out[0], []int{3, 0, 5}, []float32{})
	_, err := New("Reshape", 13, Attrs{"allowzero": int64(1)})
	wantUnsupported(t, err)
}

// TestRegroupGrad checks the shape-only ops' backward (the gradient seen
// with the input's shape) by finite differences.
func TestRegroupGrad(t *testing.T) {
	tests := []struct {
		op    string
		opset int
		attrs Attrs
		in    []*tensor.Dense
	}{
		{"Reshape", 14, nil, []*tensor.Dense{randF32(1, -1, 1, 2, 3), i64([]int{2}, 3, -1)}},
		{"Flatten", 13, Attrs{"axis": int64(-1)}, []*tensor.Dense{randF32(2, -1, 1, 2, 3, 2)}},
		{"Squeeze", 13, nil, []*tensor.Dense{randF32(3, -1, 1, 2, 1, 3), i64([]int{1}, 1)}},
		{"Unsqueeze", 13, nil, []*tensor.Dense{randF32(4, -1, 1, 2, 3), i64([]int{2}, -1, 0)}},
		{"Identity", 13, nil, []*tensor.Dense{randF32(5, -1, 1, 4)}},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			checkGrad(t, mustNew(t, tt.op, tt.opset, tt.attrs).(Differentiable), noRand, tt.in, []int{0})
		})
	}
}
