package onnx

import (
	"bytes"
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
	"gorgonia.org/tensor"
)

// Rewrite returns the serialized model with the initializers named in
// weights replaced where their values changed (data written as raw_data,
// every other field of those TensorProtos kept) and metadata_props set to
// meta. Every other field is
// copied as it was, so a rewrite with no weights and the model's own
// metadata gives the input back byte for byte.
func Rewrite(model []byte, weights map[string]*tensor.Dense, meta []Prop) ([]byte, error) {
	old, err := ReadModel(model)
	if err != nil {
		return nil, err
	}
	keepMeta := slices.Equal(old.Metadata, meta)
	done := map[string]bool{}
	out := make([]byte, 0, len(model))
	metaWritten := false
	err = walk(model, func(f field) error {
		switch f.num {
		case mGraph:
			g, err := rewriteGraph(f.val, weights, done)
			if err != nil {
				return err
			}
			out = protowire.AppendTag(out, mGraph, protowire.BytesType)
			out = protowire.AppendBytes(out, g)
			return nil
		case mMetadataProps:
			if keepMeta {
				out = append(out, f.raw...)
			} else if !metaWritten {
				out = appendProps(out, meta)
			}
			metaWritten = true
			return nil
		}
		out = append(out, f.raw...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rewrite model: %w", err)
	}
	if !metaWritten {
		out = appendProps(out, meta)
	}
	for name := range weights {
		if !done[name] {
			return nil, fmt.Errorf("rewrite model: no initializer %q", name)
		}
	}
	return out, nil
}

func appendProps(dst []byte, props []Prop) []byte {
	for _, p := range props {
		var e []byte
		e = protowire.AppendTag(e, 1, protowire.BytesType)
		e = protowire.AppendString(e, p.Key)
		e = protowire.AppendTag(e, 2, protowire.BytesType)
		e = protowire.AppendString(e, p.Value)
		dst = protowire.AppendTag(dst, mMetadataProps, protowire.BytesType)
		dst = protowire.AppendBytes(dst, e)
	}
	return dst
}

func rewriteGraph(g []byte, weights map[string]*tensor.Dense, done map[string]bool) ([]byte, error) {
	out := make([]byte, 0, len(g))
	err := walk(g, func(f field) error {
		if f.num != gInitializer || f.typ != protowire.BytesType {
			out = append(out, f.raw...)
			return nil
		}
		r, err := parseTensor(f.val)
		if err != nil {
			return err
		}
		t, ok := weights[r.name]
		if !ok {
			out = append(out, f.raw...)
			return nil
		}
		p, err := patchTensor(f.val, r, t)
		if err != nil {
			return fmt.Errorf("initializer %q: %w", r.name, err)
		}
		done[r.name] = true
		out = protowire.AppendTag(out, gInitializer, protowire.BytesType)
		out = protowire.AppendBytes(out, p)
		return nil
	})
	return out, err
}

// patchTensor re-encodes a TensorProto with t's data as raw_data, keeping
// its other fields; t must have the same shape and element type.
func patchTensor(proto []byte, r *rawTensor, t *tensor.Dense) ([]byte, error) {
	dt, _, err := dataType(t.Dtype())
	if err != nil {
		return nil, err
	}
	shape := []int(t.Shape())
	if t.IsScalar() {
		shape = nil
	}
	if dt != r.dataType || len(shape) != len(r.dims) {
		return nil, fmt.Errorf("new value %v %v does not match %s %v", t.Dtype(), shape, TypeName(r.dataType), r.dims)
	}
	for i, d := range r.dims {
		if int64(shape[i]) != d {
			return nil, fmt.Errorf("new value shape %v does not match %v", shape, r.dims)
		}
	}
	raw, err := rawData(t)
	if err != nil {
		return nil, err
	}
	// Unchanged values keep their original encoding (typed fields too).
	if old, err := r.dense(); err == nil {
		if was, err := rawData(old); err == nil && bytes.Equal(was, raw) {
			return proto, nil
		}
	}
	out := make([]byte, 0, len(raw)+64)
	err = walk(proto, func(f field) error {
		switch f.num {
		case tRawData, tFloatData, tInt32Data, tInt64Data, tDoubleData, tUint64Data:
			return nil
		}
		out = append(out, f.raw...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out = protowire.AppendTag(out, tRawData, protowire.BytesType)
	return protowire.AppendBytes(out, raw), nil
}
