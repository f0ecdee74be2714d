package nn

import (
	"testing"

	"gorgonia.org/tensor"
)

// TestHugeShapes checks that shapes a model can ask for but no host can
// hold give errors, not allocation panics.
func TestHugeShapes(t *testing.T) {
	huge := int64(1) << 40
	cases := []struct {
		op string
		in []*tensor.Dense
	}{
		{"Expand", []*tensor.Dense{f32([]int{1}, 1), i64([]int{2}, huge, huge)}},
		{"ConstantOfShape", []*tensor.Dense{i64([]int{1}, huge)}},
		{"MatMul", []*tensor.Dense{f32([]int{1 << 20, 0}), f32([]int{0, 1 << 20})}},
		{"Gemm", []*tensor.Dense{f32([]int{1 << 20, 0}), f32([]int{0, 1 << 20})}},
		// 2^32·2^32·4 wraps to 0 in int arithmetic
		{"Reshape", []*tensor.Dense{f32([]int{0}), i64([]int{3}, 1<<32, 1<<32, 4)}},
	}
	for _, c := range cases {
		attrs := Attrs(nil)
		if c.op == "Reshape" {
			attrs = Attrs{"allowzero": int64(1)}
		}
		if _, _, err := mustNew(t, c.op, 14, attrs).Forward(noRand(), c.in); err == nil {
			t.Errorf("%s: want error", c.op)
		}
	}
	for _, c := range []struct {
		shape []int
		ok    bool
	}{{[]int{}, true}, {[]int{0, 1 << 30, 1 << 30}, true}, {[]int{1 << 15, 1 << 15}, true}, {[]int{1 << 16, 1 << 15}, false}, {[]int{1 << 16, 1 << 16}, false}, {[]int{2, -1}, false}} {
		if err := checkSize(c.shape); (err == nil) != c.ok {
			t.Errorf("checkSize(%v) = %v, want ok %v", c.shape, err, c.ok)
		}
	}
}
