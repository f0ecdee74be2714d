package nn

import (
	"fmt"
	"math"
	"testing"

	"gorgonia.org/tensor"
)

func TestSlice(t *testing.T) {
	// x = [[0 1 2 3 4] [10 11 12 13 14] [20 21 22 23 24]]
	var xv []int64
	for i := range 3 {
		for j := range 5 {
			xv = append(xv, int64(10*i+j))
		}
	}
	x := i64([]int{3, 5}, xv...)
	ints := func(v ...int64) *tensor.Dense { return i64([]int{len(v)}, v...) }
	const big = math.MaxInt64
	tests := []struct {
		name                      string
		starts, ends, axes, steps *tensor.Dense
		shape                     []int
		want                      []int64
	}{
		{"both axes", ints(1, 1), ints(3, 4), nil, nil, []int{2, 3}, []int64{11, 12, 13, 21, 22, 23}},
		{"one axis", ints(2), ints(big), ints(1), nil, []int{3, 3}, []int64{2, 3, 4, 12, 13, 14, 22, 23, 24}},
		{"negative axis and start", ints(-2), ints(big), ints(-1), nil, []int{3, 2}, []int64{3, 4, 13, 14, 23, 24}},
		{"step 2", ints(0), ints(5), ints(1), ints(2), []int{3, 3}, []int64{0, 2, 4, 10, 12, 14, 20, 22, 24}},
		{"reverse", ints(-1), ints(math.MinInt64), ints(1), ints(-1), []int{3, 5}, []int64{4, 3, 2, 1, 0, 14, 13, 12, 11, 10, 24, 23, 22, 21, 20}},
		{"reverse rows by 2", ints(10), ints(-10), ints(0), ints(-2), []int{2, 5}, []int64{20, 21, 22, 23, 24, 0, 1, 2, 3, 4}},
		{"reverse stops", ints(4), ints(1), ints(1), ints(-2), []int{3, 2}, []int64{4, 2, 14, 12, 24, 22}},
		{"out of bounds", ints(-100), ints(100), ints(0), nil, []int{3, 5}, xv},
		{"empty", ints(3), ints(1), ints(1), nil, []int{3, 0}, []int64{}},
		{"empty past end", ints(7), ints(9), ints(1), nil, []int{3, 0}, []int64{}},
		{"int32 params", tensor.New(tensor.WithShape(1), tensor.WithBacking([]int32{1})), tensor.New(tensor.WithShape(1), tensor.WithBacking([]int32{2})), nil, nil, []int{1, 5}, []int64{10, 11, 12, 13, 14}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantTensor(t, run1(t, "Slice", 13, nil, x, tt.starts, tt.ends, tt.axes, tt.steps)[0], tt.shape, tt.want)
		})
	}
	t.Run("attributes", func(t *testing.T) {
		out := run1(t, "Slice", 1, Attrs{"starts": []int64{1}, "ends": []int64{-1}, "axes": []int64{1}}, x)
		wantTensor(t, out[0], []int{3, 3}, []int64{1, 2, 3, 11, 12, 13, 21, 22, 23})
	})
	for _, c := range [][]*tensor.Dense{
		{x, ints(0), ints(1), ints(0), ints(0)},
		{x, ints(0, 0), ints(1)},
		{x, ints(0, 0), ints(1, 1), ints(0, 0)},
		{x, ints(0), ints(1), ints(2)},
		{x, ints(0)},
		{x, f32([]int{1}, 0), ints(1)},
	} {
		if _, _, err := mustNew(t, "Slice", 13, nil).Forward(noRand(), c); err == nil {
			t.Errorf("%v: want error", c[1:])
		}
	}
	if _, err := New("Slice", 9, Attrs{"starts": []int64{0}}); err == nil {
		t.Error("opset 9 without ends: want error")
	}
}

func TestSliceGrad(t *testing.T) {
	ints := func(v ...int64) *tensor.Dense { return i64([]int{len(v)}, v...) }
	for _, c := range [][4]*tensor.Dense{
		{ints(1, 0), ints(3, 2), nil, nil},
		{ints(-1), ints(-100), ints(2), ints(-2)},
		{ints(0, 1), ints(10, 4), ints(1, 2), ints(2, 2)},
	} {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			in := []*tensor.Dense{randF32(1, -1, 1, 3, 3, 4), c[0], c[1], c[2], c[3]}
			checkGrad(t, mustNew(t, "Slice", 13, nil).(Differentiable), noRand, in, []int{0})
		})
	}
}
