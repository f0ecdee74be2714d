package nn

import (
	"testing"

	"gorgonia.org/tensor"
)

func TestSqueeze(t *testing.T) {
	x := randF32(1, -1, 1, 1, 3, 1, 2)
	tests := []struct {
		op    string
		opset int
		attrs Attrs
		axes  *tensor.Dense
		want  []int
		ok    bool
	}{
		{"Squeeze", 13, nil, nil, []int{3, 2}, true},
		{"Squeeze", 13, nil, i64([]int{1}, -2), []int{1, 3, 2}, true},
		{"Squeeze", 13, nil, i64([]int{2}, 2, 0), []int{3, 2}, true},
		{"Squeeze", 11, Attrs{"axes": []int64{0}}, nil, []int{3, 1, 2}, true},
		{"Squeeze", 13, nil, i64([]int{1}, 1), nil, false},
		{"Squeeze", 13, nil, i64([]int{1}, 4), nil, false},
		{"Unsqueeze", 13, nil, i64([]int{2}, 5, 0), []int{1, 1, 3, 1, 2, 1}, true},
		{"Unsqueeze", 13, nil, i64([]int{1}, -1), []int{1, 3, 1, 2, 1}, true},
		{"Unsqueeze", 11, Attrs{"axes": []int64{1}}, nil, []int{1, 1, 3, 1, 2}, true},
		{"Unsqueeze", 13, nil, i64([]int{2}, 1, 1), nil, false},
		{"Unsqueeze", 13, nil, i64([]int{1}, 6), nil, false},
		{"Unsqueeze", 13, nil, nil, nil, false},
	}
	for _, tt := range tests {
		in := []*tensor.Dense{x, tt.axes}
		out, _, err := mustNew(t, tt.op, tt.opset, tt.attrs).Forward(noRand(), in)
		if !tt.ok {
			if err == nil {
				t.Errorf("%s axes %v %v: got %v, want error", tt.op, tt.attrs, tt.axes, Shape(out[0]))
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s %v: %v", tt.op, tt.axes, err)
		}
		wantTensor(t, out[0], tt.want, x.Float32s())
	}
	_, err := New("Squeeze", 13, Attrs{"axes": []int64{0}})
	wantUnsupported(t, err)
	// a scalar from squeezing [1]
	out := run1(t, "Squeeze", 13, nil, i64([]int{1}, 7))
	wantTensor(t, out[0], []int{}, []int64{7})
}
