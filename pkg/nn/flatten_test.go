package nn

import (
	"testing"

	"gorgonia.org/tensor"
)

func TestFlatten(t *testing.T) {
	x := randF32(1, -1, 1, 2, 3, 4)
	for _, tt := range []struct {
		opset int
		axis  any
		want  []int
		ok    bool
	}{
		{13, nil, []int{2, 12}, true},
		{13, int64(0), []int{1, 24}, true},
		{13, int64(3), []int{24, 1}, true},
		{13, int64(-1), []int{6, 4}, true},
		{13, int64(-3), []int{1, 24}, true},
		{9, int64(-1), nil, false},
		{13, int64(4), nil, false},
		{13, int64(-4), nil, false},
	} {
		a := Attrs{}
		if tt.axis != nil {
			a["axis"] = tt.axis
		}
		out, _, err := mustNew(t, "Flatten", tt.opset, a).Forward(noRand(), []*tensor.Dense{x})
		if !tt.ok {
			if err == nil {
				t.Errorf("opset %d axis %v: got shape %v, want error", tt.opset, tt.axis, Shape(out[0]))
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		wantTensor(t, out[0], tt.want, x.Float32s())
	}
}
