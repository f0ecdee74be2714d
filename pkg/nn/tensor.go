package nn

import (
	"fmt"

	"gorgonia.org/tensor"
)

// Kernels read and write the backing slices of *tensor.Dense directly; these
// helpers are the one place that knows how.

// F32 returns the float32 backing slice of t (a scalar gives a slice of one).
func F32(t *tensor.Dense) ([]float32, error) {
	if t.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("want float32 tensor, got %v", t.Dtype())
	}
	return t.Float32s(), nil
}

// I64 returns the int64 backing slice of t (a scalar gives a slice of one).
func I64(t *tensor.Dense) ([]int64, error) {
	if t.Dtype() != tensor.Int64 {
		return nil, fmt.Errorf("want int64 tensor, got %v", t.Dtype())
	}
	return t.Int64s(), nil
}

// NewF32 wraps data (not copied) as a float32 tensor of the given shape; an
// empty shape makes a scalar. len(data) must equal the shape's size.
func NewF32(shape []int, data []float32) *tensor.Dense {
	if len(shape) == 0 {
		return tensor.New(tensor.FromScalar(data[0]))
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

// ZerosF32 makes a zeroed float32 tensor.
func ZerosF32(shape ...int) *tensor.Dense {
	return NewF32(shape, make([]float32, Size(shape)))
}

// NewI64 wraps data (not copied) as an int64 tensor of the given shape.
func NewI64(shape []int, data []int64) *tensor.Dense {
	if len(shape) == 0 {
		return tensor.New(tensor.FromScalar(data[0]))
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

// Shape returns t's dimensions as a fresh slice ([] for a scalar).
func Shape(t *tensor.Dense) []int {
	if t.IsScalar() {
		return []int{}
	}
	return append([]int(nil), t.Shape()...)
}

// Size is the number of elements of a shape (1 for a scalar).
func Size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
