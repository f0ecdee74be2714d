package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
	"gorgonia.org/tensor"
)

// TensorProto.data_type values portwatch reads and writes.
const (
	TypeFloat  int32 = 1
	TypeUint8  int32 = 2
	TypeInt8   int32 = 3
	TypeInt32  int32 = 6
	TypeInt64  int32 = 7
	TypeBool   int32 = 9
	TypeDouble int32 = 11
)

// TensorProto field numbers.
const (
	tDims         = 1
	tDataType     = 2
	tSegment      = 3
	tFloatData    = 4
	tInt32Data    = 5
	tStringData   = 6
	tInt64Data    = 7
	tName         = 8
	tRawData      = 9
	tDoubleData   = 10
	tUint64Data   = 11
	tExternalData = 13
	tDataLocation = 14
)

// TypeName names an ONNX element type the way the spec does.
func TypeName(t int32) string {
	names := map[int32]string{
		TypeFloat: "float32", TypeUint8: "uint8", TypeInt8: "int8", 4: "uint16", 5: "int16",
		TypeInt32: "int32", TypeInt64: "int64", 8: "string", TypeBool: "bool", 10: "float16",
		TypeDouble: "float64", 12: "uint32", 13: "uint64", 16: "bfloat16",
	}
	if n, ok := names[t]; ok {
		return n
	}
	return fmt.Sprintf("type%d", t)
}

// rawTensor is a TensorProto's fields before conversion.
type rawTensor struct {
	name     string
	dims     []int64
	dataType int32
	raw      []byte
	hasRaw   bool
	floats   []float32
	ints32   []int64 // int32_data holds every type narrower than 32 bits too
	ints64   []int64
	doubles  []float64
}

func parseTensor(b []byte) (*rawTensor, error) {
	var r rawTensor
	err := walk(b, func(f field) error {
		var err error
		switch f.num {
		case tDims:
			r.dims, err = f.varints(r.dims)
		case tDataType:
			var v int64
			v, err = f.varint()
			r.dataType = int32(v)
		case tName:
			r.name, err = f.str()
		case tRawData:
			r.raw, err = f.bytes()
			r.hasRaw = true
		case tFloatData:
			r.floats, err = f.floats(r.floats)
		case tInt32Data:
			r.ints32, err = f.varints(r.ints32)
		case tInt64Data:
			r.ints64, err = f.varints(r.ints64)
		case tDoubleData:
			r.doubles, err = f.doubles(r.doubles)
		case tSegment:
			err = fmt.Errorf("segmented tensors are not supported")
		case tDataLocation:
			if f.u != 0 {
				err = fmt.Errorf("external data is not supported")
			}
		case tStringData, tUint64Data:
			err = fmt.Errorf("data type %s is not supported", TypeName(r.dataType))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// DecodeTensor decodes a serialized TensorProto (a .pb test file or an
// initializer) into a dense tensor of float32, float64, int64, int32, int8,
// uint8 or bool. Data may be in raw_data or the typed fields.
func DecodeTensor(b []byte) (name string, t *tensor.Dense, err error) {
	r, err := parseTensor(b)
	if err != nil {
		return "", nil, fmt.Errorf("decode tensor: %w", err)
	}
	t, err = r.dense()
	if err != nil {
		return "", nil, fmt.Errorf("decode tensor %q: %w", r.name, err)
	}
	return r.name, t, nil
}

func (r *rawTensor) dense() (*tensor.Dense, error) {
	shape := make([]int, len(r.dims))
	n := 1
	for i, d := range r.dims {
		// The bound keeps n from overflowing; real data is far smaller.
		if d < 0 || d > math.MaxInt32 {
			return nil, fmt.Errorf("dimension %d is %d", i, d)
		}
		shape[i] = int(d)
		if n *= int(d); n > math.MaxInt32 {
			return nil, fmt.Errorf("shape %v is too large", r.dims)
		}
	}
	var backing any
	var err error
	switch r.dataType {
	case TypeFloat:
		backing, err = decodeData(r, n, 4, r.floats, func(b []byte) float32 {
			return math.Float32frombits(binary.LittleEndian.Uint32(b))
		})
	case TypeDouble:
		backing, err = decodeData(r, n, 8, r.doubles, func(b []byte) float64 {
			return math.Float64frombits(binary.LittleEndian.Uint64(b))
		})
	case TypeInt64:
		backing, err = decodeData(r, n, 8, r.ints64, func(b []byte) int64 {
			return int64(binary.LittleEndian.Uint64(b))
		})
	case TypeInt32:
		backing, err = decodeData(r, n, 4, narrow(r.ints32, func(v int64) int32 { return int32(v) }),
			func(b []byte) int32 { return int32(binary.LittleEndian.Uint32(b)) })
	case TypeInt8:
		backing, err = decodeData(r, n, 1, narrow(r.ints32, func(v int64) int8 { return int8(v) }),
			func(b []byte) int8 { return int8(b[0]) })
	case TypeUint8:
		backing, err = decodeData(r, n, 1, narrow(r.ints32, func(v int64) uint8 { return uint8(v) }),
			func(b []byte) uint8 { return b[0] })
	case TypeBool:
		backing, err = decodeData(r, n, 1, narrow(r.ints32, func(v int64) bool { return v != 0 }),
			func(b []byte) bool { return b[0] != 0 })
	default:
		return nil, fmt.Errorf("data type %s is not supported", TypeName(r.dataType))
	}
	if err != nil {
		return nil, err
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(backing)), nil
}

func narrow[T any](v []int64, conv func(int64) T) []T {
	if v == nil {
		return nil
	}
	out := make([]T, len(v))
	for i, x := range v {
		out[i] = conv(x)
	}
	return out
}

// decodeData takes the n elements from raw_data (size bytes each, little
// endian) when present, else from the typed field.
func decodeData[T any](r *rawTensor, n, size int, typed []T, conv func([]byte) T) ([]T, error) {
	if r.hasRaw {
		if len(r.raw) != n*size {
			return nil, fmt.Errorf("raw_data has %d bytes, want %d for shape %v", len(r.raw), n*size, r.dims)
		}
		out := make([]T, n)
		for i := range out {
			out[i] = conv(r.raw[i*size:])
		}
		return out, nil
	}
	if len(typed) != n {
		return nil, fmt.Errorf("%d values, want %d for shape %v", len(typed), n, r.dims)
	}
	if typed == nil {
		typed = []T{}
	}
	return typed, nil
}

// ElemType maps a tensor dtype to its ONNX element type.
func ElemType(dt tensor.Dtype) (int32, error) {
	t, _, err := dataType(dt)
	return t, err
}

// dataType maps a tensor's dtype to its ONNX element type and byte size.
func dataType(dt tensor.Dtype) (int32, int, error) {
	switch dt {
	case tensor.Float32:
		return TypeFloat, 4, nil
	case tensor.Float64:
		return TypeDouble, 8, nil
	case tensor.Int64:
		return TypeInt64, 8, nil
	case tensor.Int32:
		return TypeInt32, 4, nil
	case tensor.Int8:
		return TypeInt8, 1, nil
	case tensor.Uint8:
		return TypeUint8, 1, nil
	case tensor.Bool:
		return TypeBool, 1, nil
	}
	return 0, 0, fmt.Errorf("dtype %v has no ONNX encoding here", dt)
}

// rawData encodes t's elements little endian, as raw_data holds them.
func rawData(t *tensor.Dense) ([]byte, error) {
	_, size, err := dataType(t.Dtype())
	if err != nil {
		return nil, err
	}
	n := t.Shape().TotalSize()
	if t.IsScalar() {
		n = 1
	}
	out := make([]byte, 0, n*size)
	if n == 0 {
		return out, nil // Data panics on an empty tensor
	}
	switch v := t.Data().(type) {
	case []float32:
		for _, x := range v {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(x))
		}
	case float32:
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
	case []float64:
		for _, x := range v {
			out = binary.LittleEndian.AppendUint64(out, math.Float64bits(x))
		}
	case float64:
		out = binary.LittleEndian.AppendUint64(out, math.Float64bits(v))
	case []int64:
		for _, x := range v {
			out = binary.LittleEndian.AppendUint64(out, uint64(x))
		}
	case int64:
		out = binary.LittleEndian.AppendUint64(out, uint64(v))
	case []int32:
		for _, x := range v {
			out = binary.LittleEndian.AppendUint32(out, uint32(x))
		}
	case int32:
		out = binary.LittleEndian.AppendUint32(out, uint32(v))
	case []int8:
		for _, x := range v {
			out = append(out, byte(x))
		}
	case int8:
		out = append(out, byte(v))
	case []uint8:
		out = append(out, v...)
	case uint8:
		out = append(out, v)
	case []bool:
		for _, x := range v {
			out = append(out, boolByte(x))
		}
	case bool:
		out = append(out, boolByte(v))
	default:
		return nil, fmt.Errorf("tensor data %T has no ONNX encoding here", v)
	}
	return out, nil
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// AppendTensor appends t as a TensorProto named name, data in raw_data.
func AppendTensor(dst []byte, name string, t *tensor.Dense) ([]byte, error) {
	dt, _, err := dataType(t.Dtype())
	if err != nil {
		return nil, fmt.Errorf("encode tensor %q: %w", name, err)
	}
	raw, err := rawData(t)
	if err != nil {
		return nil, fmt.Errorf("encode tensor %q: %w", name, err)
	}
	if !t.IsScalar() {
		for _, d := range t.Shape() {
			dst = protowire.AppendTag(dst, tDims, protowire.VarintType)
			dst = protowire.AppendVarint(dst, uint64(d))
		}
	}
	dst = protowire.AppendTag(dst, tDataType, protowire.VarintType)
	dst = protowire.AppendVarint(dst, uint64(dt))
	if name != "" {
		dst = protowire.AppendTag(dst, tName, protowire.BytesType)
		dst = protowire.AppendString(dst, name)
	}
	dst = protowire.AppendTag(dst, tRawData, protowire.BytesType)
	return protowire.AppendBytes(dst, raw), nil
}
