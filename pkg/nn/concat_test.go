package nn

import (
	"testing"

	"gorgonia.org/tensor"
)

func TestConcat(t *testing.T) {
	a := f32([]int{2, 2}, 1, 2, 3, 4)
	b := f32([]int{2, 1}, 5, 6)
	wantTensor(t, run1(t, "Concat", 13, Attrs{"axis": int64(1)}, a, b)[0], []int{2, 3}, []float32{1, 2, 5, 3, 4, 6})
	wantTensor(t, run1(t, "Concat", 13, Attrs{"axis": int64(-1)}, a, b)[0], []int{2, 3}, []float32{1, 2, 5, 3, 4, 6})
	wantTensor(t, run1(t, "Concat", 13, Attrs{"axis": int64(0)}, a, f32([]int{1, 2}, 7, 8))[0], []int{3, 2}, []float32{1, 2, 3, 4, 7, 8})
	// int64 shape pieces, including an empty one
	wantTensor(t, run1(t, "Concat", 13, Attrs{"axis": int64(0)}, i64([]int{1}, 1), i64([]int{0}), i64([]int{2}, 2, 3))[0], []int{3}, []int64{1, 2, 3})
	// opset 1's default axis is 1
	wantTensor(t, run1(t, "Concat", 1, nil, a, b)[0], []int{2, 3}, []float32{1, 2, 5, 3, 4, 6})
	for _, c := range []struct {
		attrs Attrs
		in    []*tensor.Dense
	}{
		{Attrs{"axis": int64(0)}, []*tensor.Dense{a, b}},
		{Attrs{"axis": int64(2)}, []*tensor.Dense{a, a}},
		{Attrs{"axis": int64(0)}, []*tensor.Dense{a, i64([]int{1, 2}, 1, 2)}},
		{Attrs{"axis": int64(0)}, []*tensor.Dense{a, f32(nil, 1)}},
		{Attrs{"axis": int64(0)}, []*tensor.Dense{a, f32([]int{2, 2, 1}, 1, 2, 3, 4)}},
	} {
		if _, _, err := mustNew(t, "Concat", 13, c.attrs).Forward(noRand(), c.in); err == nil {
			t.Errorf("%v: want error", c)
		}
	}
	if _, err := New("Concat", 13, nil); err == nil {
		t.Error("Concat without axis: want error")
	}
}

func TestConcatGrad(t *testing.T) {
	in := []*tensor.Dense{randF32(1, -1, 1, 2, 3, 2), randF32(2, -1, 1, 2, 1, 2), randF32(3, -1, 1, 2, 2, 2)}
	checkGrad(t, mustNew(t, "Concat", 13, Attrs{"axis": int64(1)}).(Differentiable), noRand, in, []int{0, 1, 2})
	checkGrad(t, mustNew(t, "Concat", 13, Attrs{"axis": int64(-1)}).(Differentiable), noRand, []*tensor.Dense{randF32(1, -1, 1, 2, 3), randF32(2, -1, 1, 2, 1)}, []int{0, 1})
}
