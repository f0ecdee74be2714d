package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// field is one field of a protobuf message as it appears on the wire.
type field struct {
	num protowire.Number
	typ protowire.Type
	u   uint64 // value of a varint or fixed field
	val []byte // payload of a length-delimited field
	raw []byte // the whole field, tag included, exactly as read
}

// walk calls fn for every field of msg, in file order.
func walk(msg []byte, fn func(f field) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return fmt.Errorf("bad field tag: %w", protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, msg[n:])
		if m < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(m))
		}
		f := field{num: num, typ: typ, raw: msg[:n+m]}
		v := msg[n : n+m]
		switch typ {
		case protowire.BytesType:
			f.val, _ = protowire.ConsumeBytes(v)
		case protowire.VarintType:
			f.u, _ = protowire.ConsumeVarint(v)
		case protowire.Fixed32Type:
			u, _ := protowire.ConsumeFixed32(v)
			f.u = uint64(u)
		case protowire.Fixed64Type:
			f.u, _ = protowire.ConsumeFixed64(v)
		}
		if err := fn(f); err != nil {
			return err
		}
		msg = msg[n+m:]
	}
	return nil
}

func (f field) want(t protowire.Type) error {
	if f.typ != t {
		return fmt.Errorf("field %d: wire type %d, want %d", f.num, f.typ, t)
	}
	return nil
}

func (f field) bytes() ([]byte, error) { return f.val, f.want(protowire.BytesType) }

func (f field) str() (string, error) { return string(f.val), f.want(protowire.BytesType) }

func (f field) varint() (int64, error) { return int64(f.u), f.want(protowire.VarintType) }

// varints appends a repeated integer field, packed or not.
func (f field) varints(dst []int64) ([]int64, error) {
	if f.typ == protowire.VarintType {
		return append(dst, int64(f.u)), nil
	}
	if err := f.want(protowire.BytesType); err != nil {
		return nil, err
	}
	for b := f.val; len(b) > 0; {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return nil, fmt.Errorf("field %d: %w", f.num, protowire.ParseError(n))
		}
		dst = append(dst, int64(v))
		b = b[n:]
	}
	return dst, nil
}

// floats appends a repeated float field, packed or not.
func (f field) floats(dst []float32) ([]float32, error) {
	return fixed(f, dst, protowire.Fixed32Type, func(u uint64) float32 { return math.Float32frombits(uint32(u)) })
}

// doubles appends a repeated double field, packed or not.
func (f field) doubles(dst []float64) ([]float64, error) {
	return fixed(f, dst, protowire.Fixed64Type, math.Float64frombits)
}

// fixed appends a repeated fixed-width field of wire type typ, packed or
// not, converting each value with conv.
func fixed[T any](f field, dst []T, typ protowire.Type, conv func(uint64) T) ([]T, error) {
	if f.typ == typ {
		return append(dst, conv(f.u)), nil
	}
	if err := f.want(protowire.BytesType); err != nil {
		return nil, err
	}
	size := 4
	if typ == protowire.Fixed64Type {
		size = 8
	}
	if len(f.val)%size != 0 {
		return nil, fmt.Errorf("field %d: packed values of %d bytes", f.num, len(f.val))
	}
	for b := f.val; len(b) > 0; b = b[size:] {
		if size == 4 {
			dst = append(dst, conv(uint64(binary.LittleEndian.Uint32(b))))
		} else {
			dst = append(dst, conv(binary.LittleEndian.Uint64(b)))
		}
	}
	return dst, nil
}
