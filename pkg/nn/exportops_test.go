package nn

import (
	"path/filepath"
	"testing"

	"gorgonia.org/tensor"
)

// TestExportOpsByHand pins the forward passes of the ops real Conv1D/LSTM
// exports use on small cases worked out by hand.
func TestExportOpsByHand(t *testing.T) {
	x := func() *tensor.Dense { return NewF32([]int{1, 1, 4}, []float32{1, 2, 3, 4}) }
	pads := NewI64([]int{6}, []int64{0, 0, 2, 0, 0, 1})
	tests := []struct {
		name  string
		op    string
		opset int
		attrs Attrs
		in    []*tensor.Dense
		shape []int
		want  []float32
	}{
		{"pad constant", "Pad", 18, nil, []*tensor.Dense{x(), pads, NewF32([]int{}, []float32{9})}, []int{1, 1, 7}, []float32{9, 9, 1, 2, 3, 4, 9}},
		{"pad reflect", "Pad", 18, Attrs{"mode": "reflect"}, []*tensor.Dense{x(), pads}, []int{1, 1, 7}, []float32{3, 2, 1, 2, 3, 4, 3}},
		{"pad edge", "Pad", 18, Attrs{"mode": "edge"}, []*tensor.Dense{x(), pads}, []int{1, 1, 7}, []float32{1, 1, 1, 2, 3, 4, 4}},
		{"pad attribute crop", "Pad", 2, Attrs{"pads": []int64{0, 0, -1, 0, 0, 1}, "value": float32(7)}, []*tensor.Dense{x()}, []int{1, 1, 4}, []float32{2, 3, 4, 7}},
		{"pad axes", "Pad", 18, nil, []*tensor.Dense{x(), NewI64([]int{2}, []int64{1, 0}), nil, NewI64([]int{1}, []int64{-1})}, []int{1, 1, 5}, []float32{0, 1, 2, 3, 4}},
		{"pow", "Pow", 15, nil, []*tensor.Dense{x(), NewF32([]int{}, []float32{2})}, []int{1, 1, 4}, []float32{1, 4, 9, 16}},
		{"sqrt", "Sqrt", 13, nil, []*tensor.Dense{NewF32([]int{2}, []float32{4, 9})}, []int{2}, []float32{2, 3}},
		{"reduce mean attr", "ReduceMean", 13, Attrs{"axes": []int64{-1}}, []*tensor.Dense{x()}, []int{1, 1, 1}, []float32{2.5}},
		{"reduce mean input", "ReduceMean", 18, Attrs{"keepdims": int64(0)}, []*tensor.Dense{x(), NewI64([]int{1}, []int64{2})}, []int{1, 1}, []float32{2.5}},
		{"reduce sum all", "ReduceSum", 13, Attrs{"keepdims": int64(0)}, []*tensor.Dense{x()}, []int{}, []float32{10}},
		{"reduce sum noop", "ReduceSum", 13, Attrs{"noop_with_empty_axes": int64(1)}, []*tensor.Dense{x()}, []int{1, 1, 4}, []float32{1, 2, 3, 4}},
		{"reduce max", "ReduceMax", 13, nil, []*tensor.Dense{x()}, []int{1, 1, 1}, []float32{4}},
		{"softmax", "Softmax", 13, nil, []*tensor.Dense{NewF32([]int{1, 2}, []float32{0, 0})}, []int{1, 2}, []float32{0.5, 0.5}},
		{"batchnorm", "BatchNormalization", 15, Attrs{"epsilon": float32(0)}, []*tensor.Dense{
			NewF32([]int{1, 2, 1}, []float32{3, 3}), NewF32([]int{2}, []float32{2, 1}), NewF32([]int{2}, []float32{1, 0}),
			NewF32([]int{2}, []float32{1, 3}), NewF32([]int{2}, []float32{4, 1})}, []int{1, 2, 1}, []float32{3, 0}},
		{"averagepool pads", "AveragePool", 19, Attrs{"kernel_shape": []int64{2}, "pads": []int64{1, 0}, "strides": []int64{2}}, []*tensor.Dense{x()}, []int{1, 1, 2}, []float32{1, 2.5}},
		{"averagepool include pads", "AveragePool", 19, Attrs{"kernel_shape": []int64{2}, "pads": []int64{1, 0}, "strides": []int64{2}, "count_include_pad": int64(1)}, []*tensor.Dense{x()}, []int{1, 1, 2}, []float32{0.5, 2.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := run1(t, tt.op, tt.opset, tt.attrs, tt.in...)
			wantTensor(t, out[0], tt.shape, tt.want)
		})
	}
}

// TestExportOpsGradients checks every backward pass of the export ops
// against central finite differences.
func TestExportOpsGradients(t *testing.T) {
	x := func() *tensor.Dense { return randF32(3, 0.5, 2, 2, 3, 5) }
	tests := []struct {
		name  string
		op    string
		opset int
		attrs Attrs
		in    []*tensor.Dense
		wrt   []int
	}{
		{"pad constant", "Pad", 18, nil, []*tensor.Dense{x(), NewI64([]int{6}, []int64{0, 1, 2, 0, 0, 1}), NewF32([]int{}, []float32{0.5})}, []int{0, 2}},
		{"pad reflect", "Pad", 18, Attrs{"mode": "reflect"}, []*tensor.Dense{x(), NewI64([]int{6}, []int64{0, 1, 3, 0, 2, 4})}, []int{0}},
		{"pad edge", "Pad", 11, Attrs{"mode": "edge"}, []*tensor.Dense{x(), NewI64([]int{6}, []int64{0, 0, 3, 0, 1, 2})}, []int{0}},
		{"pow", "Pow", 15, nil, []*tensor.Dense{x(), randF32(4, 0.5, 3, 5)}, []int{0, 1}},
		{"sqrt", "Sqrt", 13, nil, []*tensor.Dense{x()}, []int{0}},
		{"reduce mean", "ReduceMean", 13, Attrs{"axes": []int64{1}}, []*tensor.Dense{x()}, []int{0}},
		{"reduce sum", "ReduceSum", 13, Attrs{"keepdims": int64(0)}, []*tensor.Dense{x(), NewI64([]int{2}, []int64{0, 2})}, []int{0}},
		{"reduce max", "ReduceMax", 18, nil, []*tensor.Dense{x(), NewI64([]int{1}, []int64{-1})}, []int{0}},
		{"softmax", "Softmax", 13, Attrs{"axis": int64(1)}, []*tensor.Dense{x()}, []int{0}},
		{"softmax flattened", "Softmax", 11, nil, []*tensor.Dense{x()}, []int{0}},
		{"batchnorm", "BatchNormalization", 15, nil, []*tensor.Dense{x(), randF32(5, 0.5, 2, 3), randF32(6, -1, 1, 3), randF32(7, -1, 1, 3), randF32(8, 0.5, 2, 3)}, []int{0, 1, 2, 3, 4}},
		{"averagepool", "AveragePool", 19, Attrs{"kernel_shape": []int64{3}, "pads": []int64{1, 1}, "strides": []int64{2}}, []*tensor.Dense{x()}, []int{0}},
		{"averagepool ceil", "AveragePool", 19, Attrs{"kernel_shape": []int64{2}, "strides": []int64{2}, "ceil_mode": int64(1)}, []*tensor.Dense{x()}, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGrad(t, mustNew(t, tt.op, tt.opset, tt.attrs).(Differentiable), noRand, tt.in, tt.wrt)
		})
	}
}

// TestExportOpsRefused: what the kernels do not implement is a typed error.
func TestExportOpsRefused(t *testing.T) {
	for _, tt := range []struct {
		op    string
		attrs Attrs
	}{
		{"Pad", Attrs{"mode": "wrap"}},
		{"BatchNormalization", Attrs{"training_mode": int64(1)}},
		{"AveragePool", Attrs{"kernel_shape": []int64{2}, "ceil_mode": int64(1), "count_include_pad": int64(1)}},
	} {
		t.Run(tt.op, func(t *testing.T) {
			_, err := New(tt.op, 19, tt.attrs)
			wantUnsupported(t, err)
		})
	}
}

func TestAveragePoolConformance(t *testing.T) {
	for _, c := range []string{"test_averagepool_1d_default"} {
		t.Run(c, func(t *testing.T) { runCase(t, filepath.Join(conformanceDir, c), 1e-3, 1e-7) })
	}
}
