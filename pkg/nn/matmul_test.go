package nn

import (
	"fmt"
	"testing"

	"gorgonia.org/tensor"
)

func TestMatMul(t *testing.T) {
	m := f32([]int{2, 2}, 1, 2, 3, 4)
	v := f32([]int{2}, 5, 6)
	tests := []struct {
		name  string
		a, b  *tensor.Dense
		shape []int
		want  []float32
	}{
		{"matrix", m, f32([]int{2, 2}, 5, 6, 7, 8), []int{2, 2}, []float32{19, 22, 43, 50}},
		{"vector right", m, v, []int{2}, []float32{17, 39}},
		{"vector left", v, m, []int{2}, []float32{23, 34}},
		{"dot", v, v, []int{}, []float32{61}},
		// batch of two A's against one B: second A is 2·I
		{"batched A", f32([]int{2, 2, 2}, 1, 2, 3, 4, 2, 0, 0, 2), f32([]int{2, 2}, 5, 6, 7, 8), []int{2, 2, 2}, []float32{19, 22, 43, 50, 10, 12, 14, 16}},
		// one A against a batch of two B's: first B is I, second 2·I
		{"batched B", m, f32([]int{2, 2, 2}, 1, 0, 0, 1, 2, 0, 0, 2), []int{2, 2, 2}, []float32{1, 2, 3, 4, 2, 4, 6, 8}},
		{"vector by batch", v, f32([]int{2, 2, 1}, 1, 1, 2, 0), []int{2, 1}, []float32{11, 10}},
		{"zero k", f32([]int{2, 0}), f32([]int{0, 3}), []int{2, 3}, []float32{0, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantTensor(t, run1(t, "MatMul", 13, nil, tt.a, tt.b)[0], tt.shape, tt.want)
		})
	}
	// broadcast batches [2,1] × [3]: each of 6 products against naive gemm
	a, b := randF32(1, -1, 1, 2, 1, 3, 4), randF32(2, -1, 1, 3, 4, 5)
	out := run1(t, "MatMul", 13, nil, a, b)[0]
	if s := Shape(out); fmt.Sprint(s) != "[2 3 3 5]" {
		t.Fatalf("shape %v, want [2 3 3 5]", s)
	}
	for i := range 2 {
		for j := range 3 {
			want := naiveGemm(a.Float32s()[i*12:], b.Float32s()[j*20:], 3, 5, 4, false, false, 1)
			got := out.Float32s()[(i*3+j)*15:][:15]
			for e := range want {
				if d := got[e] - want[e]; d > 1e-5 || d < -1e-5 {
					t.Fatalf("batch (%d,%d): got %v, want %v", i, j, got, want)
				}
			}
		}
	}
	for _, in := range [][]*tensor.Dense{{m, f32([]int{3}, 1, 2, 3)}, {f32(nil, 1), m}, {randF32(1, 0, 1, 2, 2, 2), randF32(1, 0, 1, 3, 2, 2)}, {m, i64([]int{2}, 1, 2)}} {
		if _, _, err := mustNew(t, "MatMul", 13, nil).Forward(noRand(), in); err == nil {
			t.Errorf("shapes %v %v: want error", Shape(in[0]), Shape(in[1]))
		}
	}
}

func TestMatMulGrad(t *testing.T) {
	for _, s := range [][2][]int{{{3, 4}, {4, 2}}, {{4}, {4, 2}}, {{3, 4}, {4}}, {{4}, {4}}, {{2, 3, 4}, {4, 2}}, {{3, 4}, {2, 4, 2}}, {{2, 1, 3, 4}, {3, 4, 2}}} {
		t.Run(fmt.Sprint(s), func(t *testing.T) {
			in := []*tensor.Dense{randF32(1, -1, 1, s[0]...), randF32(2, -1, 1, s[1]...)}
			checkGrad(t, mustNew(t, "MatMul", 13, nil).(Differentiable), noRand, in, []int{0, 1})
		})
	}
}
