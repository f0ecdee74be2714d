package nn

import (
	"fmt"
	"slices"

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

// newDense makes a zeroed tensor of any dtype; an empty shape makes a scalar.
func newDense(dt tensor.Dtype, shape []int) *tensor.Dense {
	return tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
}

// backing returns t's backing slice as []float32, []float64, []int64, []int32
// or []bool, or nil for any other dtype. Scalars give a slice of one.
func backing(t *tensor.Dense) any {
	switch t.Dtype() {
	case tensor.Float32:
		return t.Float32s()
	case tensor.Float64:
		return t.Float64s()
	case tensor.Int64:
		return t.Int64s()
	case tensor.Int32:
		return t.Int32s()
	case tensor.Bool:
		return t.Bools()
	}
	return nil
}

// view returns a tensor of the given shape sharing t's backing slice, so
// Reshape, Squeeze and friends move no data. The sizes must agree.
func view(t *tensor.Dense, shape []int) (*tensor.Dense, error) {
	b := backing(t)
	if b == nil {
		return nil, fmt.Errorf("dtype %v not supported", t.Dtype())
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(b)), nil
}

// maxElements bounds one kernel output (8 GiB of float32, and still an int
// on 32-bit hosts), so a model with absurd shapes gets an error rather than
// an allocation panic.
const maxElements = 1<<31 - 1

// checkSize refuses negative dimensions and shapes of more than
// maxElements elements, without overflowing on the way.
func checkSize(shape []int) error {
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("negative dimension in shape %v", shape)
		}
	}
	if slices.Contains(shape, 0) {
		return nil
	}
	n := 1
	for _, d := range shape {
		if n > maxElements/d {
			return fmt.Errorf("shape %v has more than %d elements", shape, maxElements)
		}
		n *= d
	}
	return nil
}
