package nn

import (
	"fmt"
	"testing"

	"gorgonia.org/tensor"
)

func TestExpand(t *testing.T) {
	tests := []struct {
		x     *tensor.Dense
		shape []int64
		out   []int
		want  any
	}{
		{f32([]int{3, 1}, 1, 2, 3), []int64{2, 1, 2}, []int{2, 3, 2}, []float32{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}},
		{f32([]int{3, 1}, 1, 2, 3), []int64{3, 1}, []int{3, 1}, []float32{1, 2, 3}},
		// shape smaller than the input: the input's dimensions win
		{i64([]int{2, 2}, 1, 2, 3, 4), []int64{2}, []int{2, 2}, []int64{1, 2, 3, 4}},
		{i64(nil, 7), []int64{3}, []int{3}, []int64{7, 7, 7}},
		{f32([]int{1}, 5), []int64{0}, []int{0}, []float32{}},
	}
	for _, tt := range tests {
		out := run1(t, "Expand", 13, nil, tt.x, i64([]int{len(tt.shape)}, tt.shape...))
		wantTensor(t, out[0], tt.out, tt.want)
	}
	for _, sh := range [][]int64{{2, 2}, {-1}} {
		if _, _, err := mustNew(t, "Expand", 13, nil).Forward(noRand(), []*tensor.Dense{f32([]int{3}, 1, 2, 3), i64([]int{len(sh)}, sh...)}); err == nil {
			t.Errorf("shape %v: want error", sh)
		}
	}
}

func TestExpandGrad(t *testing.T) {
	for _, c := range []struct {
		x     []int
		shape []int64
	}{{[]int{3, 1}, []int64{2, 3, 4}}, {[]int{}, []int64{2, 2}}, {[]int{1, 2}, []int64{3, 1}}, {[]int{2}, []int64{2}}} {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			in := []*tensor.Dense{randF32(1, -1, 1, c.x...), i64([]int{len(c.shape)}, c.shape...)}
			checkGrad(t, mustNew(t, "Expand", 13, nil).(Differentiable), noRand, in, []int{0})
		})
	}
}
