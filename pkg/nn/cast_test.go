package nn

import (
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

func TestCast(t *testing.T) {
	fl := f32([]int{4}, -1.7, 0, 2.9, 3)
	bools := tensor.New(tensor.WithShape(2), tensor.WithBacking([]bool{true, false}))
	tests := []struct {
		name  string
		opset int
		to    any
		x     *tensor.Dense
		want  any
	}{
		{"float to int64 truncates", 13, int64(7), fl, []int64{-1, 0, 2, 3}},
		{"float to int32", 13, int64(6), fl, []int32{-1, 0, 2, 3}},
		{"float to bool", 13, int64(9), fl, []bool{true, false, true, true}},
		{"float to double", 13, int64(11), f32([]int{1}, 0.5), []float64{0.5}},
		{"int64 to float", 21, int64(1), i64([]int{2}, -3, 1<<40), []float32{-3, 1 << 40}},
		{"bool to float", 13, int64(1), bools, []float32{1, 0}},
		{"bool to int64", 13, int64(7), bools, []int64{1, 0}},
		{"int64 to int64", 13, int64(7), i64([]int{1}, 5), []int64{5}},
		{"string attribute", 1, "FLOAT", i64([]int{1}, 5), []float32{5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := run1(t, "Cast", tt.opset, Attrs{"to": tt.to}, tt.x)
			wantTensor(t, out[0], Shape(tt.x), tt.want)
		})
	}
	for to, name := range map[int64]string{10: "FLOAT16", 8: "STRING", 16: "BFLOAT16", 2: "UINT8", 99: "99"} {
		_, err := New("Cast", 13, Attrs{"to": to})
		wantUnsupported(t, err)
		if !strings.Contains(err.Error(), name) {
			t.Errorf("to %d: error %q does not name %s", to, err, name)
		}
	}
	if _, err := New("Cast", 13, nil); err == nil {
		t.Error("Cast without to: want error")
	}
	run1(t, "Cast", 19, Attrs{"to": int64(1), "saturate": int64(1)}, fl)
	_, err := New("Cast", 13, Attrs{"to": int64(1), "saturate": int64(1)})
	wantUnsupported(t, err)
	u8 := tensor.New(tensor.WithShape(1), tensor.WithBacking([]uint8{1}))
	_, _, err = mustNew(t, "Cast", 13, Attrs{"to": int64(1)}).Forward(noRand(), []*tensor.Dense{u8})
	wantUnsupported(t, err)
}
