package nn

import (
	"fmt"
	"testing"

	"gorgonia.org/tensor"
)

func TestGather(t *testing.T) {
	// data[i][j] = 10i + j, shape [3,2]
	data := f32([]int{3, 2}, 0, 1, 10, 11, 20, 21)
	tests := []struct {
		name    string
		axis    int64
		indices *tensor.Dense
		shape   []int
		want    []float32
	}{
		{"rows", 0, i64([]int{2}, 2, 0), []int{2, 2}, []float32{20, 21, 0, 1}},
		{"negative index", 0, i64([]int{1}, -1), []int{1, 2}, []float32{20, 21}},
		{"scalar index", 0, i64(nil, 1), []int{2}, []float32{10, 11}},
		{"2-D indices", 0, i64([]int{2, 2}, 0, 1, 1, 2), []int{2, 2, 2}, []float32{0, 1, 10, 11, 10, 11, 20, 21}},
		{"columns", 1, i64([]int{3}, 1, 1, 0), []int{3, 3}, []float32{1, 1, 0, 11, 11, 10, 21, 21, 20}},
		{"negative axis", -1, i64(nil, 1), []int{3}, []float32{1, 11, 21}},
		{"int32 indices", 0, tensor.New(tensor.WithShape(1), tensor.WithBacking([]int32{1})), []int{1, 2}, []float32{10, 11}},
		{"no indices", 0, i64([]int{0}), []int{0, 2}, []float32{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantTensor(t, run1(t, "Gather", 13, Attrs{"axis": tt.axis}, data, tt.indices)[0], tt.shape, tt.want)
		})
	}
	// the exporter's pattern: one dimension out of a Shape output
	wantTensor(t, run1(t, "Gather", 13, nil, i64([]int{3}, 1, 60, 3), i64(nil, 1))[0], []int{}, []int64{60})
	for _, c := range []struct {
		axis int64
		idx  *tensor.Dense
	}{{0, i64([]int{1}, 3)}, {0, i64([]int{1}, -4)}, {2, i64([]int{1}, 0)}, {0, f32([]int{1}, 0)}} {
		if _, _, err := mustNew(t, "Gather", 13, Attrs{"axis": c.axis}).Forward(noRand(), []*tensor.Dense{data, c.idx}); err == nil {
			t.Errorf("axis %d indices %v: want error", c.axis, c.idx)
		}
	}
}

func TestGatherGrad(t *testing.T) {
	for _, c := range []struct {
		axis int64
		idx  *tensor.Dense
	}{
		{0, i64([]int{4}, 2, 0, 2, -1)}, // repeated indices accumulate
		{1, i64([]int{2, 2}, 0, 3, 3, 1)},
		{-1, i64(nil, 2)},
	} {
		t.Run(fmt.Sprint(c.axis), func(t *testing.T) {
			in := []*tensor.Dense{randF32(1, -1, 1, 3, 4, 3), c.idx}
			checkGrad(t, mustNew(t, "Gather", 13, Attrs{"axis": c.axis}).(Differentiable), noRand, in, []int{0})
		})
	}
}
