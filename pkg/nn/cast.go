package nn

import (
	"fmt"
	"slices"

	"gorgonia.org/tensor"
)

// onnxTypes names TensorProto.DataType values, index = enum value, so a
// refused cast says which type the model asked for.
func onnxTypes() []string {
	return []string{"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64",
		"STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16",
		"FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4", "INT4", "FLOAT4E2M1"}
}

// castTarget gives the type Cast converts to, by ONNX enum value.
func castTarget(to int64) (tensor.Dtype, bool) {
	switch to {
	case 1:
		return tensor.Float32, true
	case 6:
		return tensor.Int32, true
	case 7:
		return tensor.Int64, true
	case 9:
		return tensor.Bool, true
	case 11:
		return tensor.Float64, true
	}
	return tensor.Dtype{}, false
}

// cast converts between float32, float64, int64, int32 and bool: floats
// to integers truncate toward zero, anything non-zero becomes true.
type cast struct {
	to tensor.Dtype
}

var _ Op = (*cast)(nil)

func newCast(opset int, a Attrs) (Op, error) {
	known := []string{"to"}
	if opset >= 19 {
		// saturate only affects float8 targets, which are refused anyway
		known = append(known, "saturate")
	}
	if err := a.Check("Cast", known...); err != nil {
		return nil, err
	}
	if _, ok := a["to"]; !ok {
		return nil, fmt.Errorf("Cast: attribute to is required")
	}
	var to int64
	if opset < 6 {
		// Cast-1 names the type as a string
		name, err := a.String("to", "")
		if err != nil {
			return nil, fmt.Errorf("Cast: %w", err)
		}
		to = int64(slices.Index(onnxTypes(), name))
	} else {
		var err error
		if to, err = a.Int("to", 0); err != nil {
			return nil, fmt.Errorf("Cast: %w", err)
		}
	}
	dt, ok := castTarget(to)
	if !ok {
		name := fmt.Sprintf("type %v", a["to"])
		if names := onnxTypes(); to > 0 && to < int64(len(names)) {
			name = names[to]
		}
		return nil, &UnsupportedError{Op: "Cast", Reason: "cast to " + name}
	}
	return &cast{to: dt}, nil
}

func (c *cast) Forward(_ *Pass, in []*tensor.Dense) ([]*tensor.Dense, any, error) {
	if len(in) != 1 || in[0] == nil {
		return nil, nil, fmt.Errorf("Cast: want 1 input")
	}
	out := newDense(c.to, Shape(in[0]))
	var err error
	switch s := backing(in[0]).(type) {
	case []float32:
		err = castFrom(out, s)
	case []float64:
		err = castFrom(out, s)
	case []int64:
		err = castFrom(out, s)
	case []int32:
		err = castFrom(out, s)
	case []bool:
		b := make([]int32, len(s))
		for i, v := range s {
			if v {
				b[i] = 1
			}
		}
		err = castFrom(out, b)
	default:
		err = fmt.Errorf("from %v", in[0].Dtype())
	}
	if err != nil {
		return nil, nil, &UnsupportedError{Op: "Cast", Reason: err.Error()}
	}
	return []*tensor.Dense{out}, nil, nil
}

func castFrom[S float32 | float64 | int64 | int32](dst *tensor.Dense, src []S) error {
	switch d := backing(dst).(type) {
	case []float32:
		convert(d, src)
	case []float64:
		convert(d, src)
	case []int64:
		convert(d, src)
	case []int32:
		convert(d, src)
	case []bool:
		for i, v := range src {
			d[i] = v != 0
		}
	default:
		return fmt.Errorf("to %v", dst.Dtype())
	}
	return nil
}

func convert[D, S float32 | float64 | int64 | int32](dst []D, src []S) {
	for i, v := range src {
		dst[i] = D(v)
	}
}
