package nn

import (
	"fmt"

	"gorgonia.org/tensor"
)

// constant outputs the tensor its attributes define.
type constant struct {
	value *tensor.Dense
}

var _ Op = (*constant)(nil)

func newConstant(opset int, a Attrs) (Op, error) {
	known := []string{"value"}
	if opset >= 12 {
		known = append(known, "value_float", "value_floats", "value_int", "value_ints")
	}
	// sparse_value and value_string(s) fall outside known and are refused.
	if err := a.Check("Constant", known...); err != nil {
		return nil, err
	}
	if len(a) != 1 {
		return nil, fmt.Errorf("Constant: want exactly one value attribute, got %d", len(a))
	}
	var v *tensor.Dense
	var err error
	switch {
	case a["value"] != nil:
		v, _, err = a.Tensor("value")
	case a["value_float"] != nil:
		var f float32
		f, err = a.Float("value_float", 0)
		v = NewF32(nil, []float32{f})
	case a["value_floats"] != nil:
		var fs []float32
		fs, err = a.Floats("value_floats", nil)
		v = NewF32([]int{len(fs)}, fs)
	case a["value_int"] != nil:
		var i int64
		i, err = a.Int("value_int", 0)
		v = NewI64(nil, []int64{i})
	default:
		var is []int64
		is, err = a.Ints("value_ints", nil)
		v = NewI64([]int{len(is)}, is)
	}
	if err != nil {
		return nil, fmt.Errorf("Constant: %w", err)
	}
	return &constant{value: v}, nil
}

// Forward hands out the same tensor every run: kernels never write their
// inputs.
func (c *constant) Forward(_ *Pass, _ []*tensor.Dense) ([]*tensor.Dense, any, error) {
	return []*tensor.Dense{c.value}, nil, nil
}

// constantOfShape fills a tensor of the shape given as input with value.
type constantOfShape struct {
	value *tensor.Dense // one element
}

var _ Op = (*constantOfShape)(nil)

func newConstantOfShape(_ int, a Attrs) (Op, error) {
	if err := a.Check("ConstantOfShape", "value"); err != nil {
		return nil, err
	}
	v, ok, err := a.Tensor("value")
	if err != nil {
		return nil, fmt.Errorf("ConstantOfShape: %w", err)
	}
	if !ok {
		v = NewF32(nil, []float32{0})
	}
	if Size(Shape(v)) != 1 {
		return nil, fmt.Errorf("ConstantOfShape: value has shape %v, want one element", Shape(v))
	}
	if backing(v) == nil {
		return nil, &UnsupportedError{Op: "ConstantOfShape", Reason: fmt.Sprintf("value of type %v", v.Dtype())}
	}
	return &constantOfShape{value: v}, nil
}

func (c *constantOfShape) Forward(_ *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	dims, err := intsInput(in, 0, "shape")
	if err != nil {
		return nil, nil, fmt.Errorf("ConstantOfShape: %w", err)
	}
	if dims == nil {
		return nil, nil, fmt.Errorf("ConstantOfShape: missing shape input")
	}
	shape := make([]int, len(dims))
	for i, d := range dims {
		shape[i] = int(d)
	}
	if err := checkSize(shape); err != nil {
		return nil, nil, fmt.Errorf("ConstantOfShape: %w", err)
	}
	out := newDense(c.value.Dtype(), shape)
	// a broadcast copy from stride 0 fills every element
	if err := moveData(out, c.value, newWalker(shape, strides(shape), make([]int, len(shape))), 0, 0); err != nil {
		return nil, nil, fmt.Errorf("ConstantOfShape: %w", err)
	}
	return []*tensor.Dense{out}, nil, nil
}
