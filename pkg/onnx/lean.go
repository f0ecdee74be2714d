package onnx

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Lean returns a copy of a serialized model for onnx-go: no initializers
// (the engine decodes them itself, so they are not parsed twice) and every
// TENSOR attribute replaced by a one-float placeholder, because onnx-go
// cannot decode empty tensors and misreads bool raw_data; Node.Tensors keeps
// the real values.
func Lean(model []byte) ([]byte, error) {
	out := make([]byte, 0, 4096)
	err := walk(model, func(f field) error {
		if f.num != mGraph || f.typ != protowire.BytesType {
			out = append(out, f.raw...)
			return nil
		}
		g, err := leanGraph(f.val)
		if err != nil {
			return err
		}
		out = appendMsg(out, mGraph, g)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lean model: %w", err)
	}
	return out, nil
}

func leanGraph(g []byte) ([]byte, error) {
	var out []byte
	err := walk(g, func(f field) error {
		switch {
		case f.typ != protowire.BytesType:
		case f.num == gInitializer:
			return nil
		case f.num == gNode:
			n, err := leanNode(f.val)
			if err != nil {
				return err
			}
			out = appendMsg(out, gNode, n)
			return nil
		}
		out = append(out, f.raw...)
		return nil
	})
	return out, err
}

func leanNode(n []byte) ([]byte, error) {
	var out []byte
	err := walk(n, func(f field) error {
		if f.num != nAttribute || f.typ != protowire.BytesType {
			out = append(out, f.raw...)
			return nil
		}
		var attr []byte
		err := walk(f.val, func(f field) error {
			if f.num == aT {
				attr = appendMsg(attr, aT, placeholder())
				return nil
			}
			attr = append(attr, f.raw...)
			return nil
		})
		out = appendMsg(out, nAttribute, attr)
		return err
	})
	return out, err
}

// placeholder is a TensorProto onnx-go decodes: float32 [1], zero.
func placeholder() []byte {
	var t []byte
	t = appendVarint(t, tDims, 1)
	t = appendVarint(t, tDataType, uint64(TypeFloat))
	return appendMsg(t, tRawData, make([]byte, 4))
}
