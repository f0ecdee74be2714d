package nn

import (
	"testing"

	"gorgonia.org/tensor"
)

func TestConstant(t *testing.T) {
	v := f32([]int{2}, 1.5, 2.5)
	wantTensor(t, run1(t, "Constant", 9, Attrs{"value": v})[0], []int{2}, []float32{1.5, 2.5})
	wantTensor(t, run1(t, "Constant", 13, Attrs{"value_float": float32(3)})[0], []int{}, []float32{3})
	wantTensor(t, run1(t, "Constant", 13, Attrs{"value_floats": []float32{1, 2}})[0], []int{2}, []float32{1, 2})
	wantTensor(t, run1(t, "Constant", 13, Attrs{"value_int": int64(-4)})[0], []int{}, []int64{-4})
	wantTensor(t, run1(t, "Constant", 13, Attrs{"value_ints": []int64{}})[0], []int{0}, []int64{})
	for _, c := range []struct {
		opset int
		attrs Attrs
	}{
		{13, Attrs{"sparse_value": v}},
		{13, Attrs{"value_string": "x"}},
		{13, Attrs{"value_strings": []string{"x"}}},
		{11, Attrs{"value_int": int64(1)}},
	} {
		_, err := New("Constant", c.opset, c.attrs)
		wantUnsupported(t, err)
	}
	for _, a := range []Attrs{{}, {"value": v, "value_int": int64(1)}, {"value": int64(1)}} {
		if _, err := New("Constant", 13, a); err == nil {
			t.Errorf("attributes %v: want error", a)
		}
	}
}

func TestConstantOfShape(t *testing.T) {
	wantTensor(t, run1(t, "ConstantOfShape", 9, nil, i64([]int{2}, 2, 3))[0], []int{2, 3}, make([]float32, 6))
	out := run1(t, "ConstantOfShape", 9, Attrs{"value": i64([]int{1}, 7)}, i64([]int{1}, 3))
	wantTensor(t, out[0], []int{3}, []int64{7, 7, 7})
	out = run1(t, "ConstantOfShape", 20, Attrs{"value": f32([]int{1}, 0.5)}, i64([]int{0}))
	wantTensor(t, out[0], []int{}, []float32{0.5})
	out = run1(t, "ConstantOfShape", 20, Attrs{"value": f32([]int{1}, 0.5)}, i64([]int{2}, 2, 0))
	wantTensor(t, out[0], []int{2, 0}, []float32{})
	for _, in := range []*tensor.Dense{i64([]int{1}, -1), f32([]int{1}, 2), nil} {
		if _, _, err := mustNew(t, "ConstantOfShape", 9, nil).Forward(noRand(), []*tensor.Dense{in}); err == nil {
			t.Errorf("shape %v: want error", in)
		}
	}
	if _, err := New("ConstantOfShape", 9, Attrs{"value": f32([]int{2}, 1, 2)}); err == nil {
		t.Error("two-element value: want error")
	}
}
