package onnx

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"gorgonia.org/tensor"
)

const conformance = "../../../shared/onnx-conformance"

func TestTensorRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		t    *tensor.Dense
	}{
		{"float32", tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, -2, 3.5, 0, 1e-30, -7}))},
		{"float64", tensor.New(tensor.WithShape(2), tensor.WithBacking([]float64{1.25, -3}))},
		{"int64", tensor.New(tensor.WithShape(3), tensor.WithBacking([]int64{-1, 0, 1 << 40}))},
		{"int32", tensor.New(tensor.WithShape(2), tensor.WithBacking([]int32{-5, 7}))},
		{"bool", tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]bool{true, false, false, true}))},
		{"uint8", tensor.New(tensor.WithShape(2), tensor.WithBacking([]uint8{0, 255}))},
		{"scalar", tensor.New(tensor.FromScalar(float32(0.1)))},
		{"empty", tensor.New(tensor.WithShape(2, 0, 3), tensor.WithBacking([]float32{}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := AppendTensor(nil, tt.name, tt.t)
			if err != nil {
				t.Fatal(err)
			}
			name, got, err := DecodeTensor(b)
			if err != nil {
				t.Fatal(err)
			}
			if name != tt.name {
				t.Errorf("name: got %q, want %q", name, tt.name)
			}
			if !got.Shape().Eq(tt.t.Shape()) || got.Dtype() != tt.t.Dtype() {
				t.Fatalf("got %v %v, want %v %v", got.Dtype(), got.Shape(), tt.t.Dtype(), tt.t.Shape())
			}
			if tt.t.Shape().TotalSize() > 0 || tt.t.IsScalar() {
				if g, w := got.Data(), tt.t.Data(); !slicesEqual(g, w) {
					t.Errorf("data: got %v, want %v", g, w)
				}
			}
		})
	}
}

func slicesEqual(a, b any) bool {
	switch x := a.(type) {
	case []float32:
		return slices.Equal(x, b.([]float32))
	case []float64:
		return slices.Equal(x, b.([]float64))
	case []int64:
		return slices.Equal(x, b.([]int64))
	case []int32:
		return slices.Equal(x, b.([]int32))
	case []bool:
		return slices.Equal(x, b.([]bool))
	case []uint8:
		return slices.Equal(x, b.([]uint8))
	case float32:
		return x == b.(float32)
	}
	return false
}

// TestDecodeTensorTyped reads data from the typed fields (float_data,
// int64_data, int32_data for bool), packed and unpacked, as older
// exporters write them.
func TestDecodeTensorTyped(t *testing.T) {
	var packedF, packedI []byte
	for _, f := range []float32{1.5, -2} {
		packedF = protowire.AppendFixed32(packedF, math.Float32bits(f))
	}
	for _, v := range []int64{-3, 4} {
		packedI = protowire.AppendVarint(packedI, uint64(v))
	}
	tests := []struct {
		name string
		b    []byte
		want any
	}{
		{"float_data packed", msg(vint(tDims, 2), vint(tDataType, 1), bytesF(tFloatData, packedF)), []float32{1.5, -2}},
		{"int64_data packed", msg(vint(tDims, 2), vint(tDataType, 7), bytesF(tInt64Data, packedI)), []int64{-3, 4}},
		{"int64_data unpacked", msg(vint(tDims, 2), vint(tDataType, 7), vint(tInt64Data, uint64(1<<64-3)), vint(tInt64Data, 4)), []int64{-3, 4}},
		{"bool in int32_data", msg(vint(tDims, 3), vint(tDataType, 9), vint(tInt32Data, 1), vint(tInt32Data, 0), vint(tInt32Data, 1)), []bool{true, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, err := DecodeTensor(tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if !slicesEqual(got.Data(), tt.want) {
				t.Errorf("got %v, want %v", got.Data(), tt.want)
			}
		})
	}
}

func TestDecodeTensorBad(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
	}{
		{"raw too short", msg(vint(tDims, 3), vint(tDataType, 1), bytesF(tRawData, make([]byte, 8)))},
		{"too few typed values", msg(vint(tDims, 3), vint(tDataType, 7), vint(tInt64Data, 1))},
		{"unsupported type", msg(vint(tDims, 1), vint(tDataType, 10), bytesF(tRawData, make([]byte, 2)))},
		{"external data", msg(vint(tDims, 1), vint(tDataType, 1), vint(tDataLocation, 1))},
		{"negative dim", msg(vint(tDims, uint64(1<<64-1)), vint(tDataType, 1))},
		{"huge dims", msg(vint(tDims, 1<<30), vint(tDims, 1<<30), vint(tDataType, 1))},
		{"truncated", msg(vint(tDims, 2), vint(tDataType, 1), bytesF(tRawData, make([]byte, 8)))[:7]},
		{"no data", msg(vint(tDims, 2), vint(tDataType, 1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := DecodeTensor(tt.b); err == nil {
				t.Error("got no error")
			}
		})
	}
}

func msg(fields ...[]byte) []byte { return bytes.Join(fields, nil) }

func vint(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
}

func bytesF(num protowire.Number, v []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
}

func modelFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(conformance + "/*/model.onnx")
	if err != nil || len(files) == 0 {
		t.Skipf("conformance cases not found at %s", conformance)
	}
	more, _ := filepath.Glob(conformance + "/pytorch-converted/*/model.onnx")
	models, _ := filepath.Glob("../../../shared/onnx-models/*/model.onnx")
	return append(append(files, more...), models...)
}

// TestRewriteIdentity: a rewrite that changes nothing gives the file back
// byte for byte, for every model in the shared suites.
func TestRewriteIdentity(t *testing.T) {
	for _, f := range modelFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ReadModel(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		got, err := Rewrite(b, nil, m.Metadata)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s: rewrite changed the file (%d bytes, want %d)", f, len(got), len(b))
		}
	}
}

func TestRewriteWeightsAndMetadata(t *testing.T) {
	f := "../../../shared/onnx-models/burn_lstm/model.onnx"
	b, err := os.ReadFile(f)
	if err != nil {
		t.Skipf("model not found: %v", err)
	}
	m, err := ReadModel(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Graph.Initializers) == 0 {
		t.Fatal("no initializers")
	}
	init := m.Graph.Initializers[0]
	_, w, err := DecodeTensor(init.Proto)
	if err != nil {
		t.Fatal(err)
	}
	data := slices.Clone(w.Float32s())
	for i := range data {
		data[i] += 1
	}
	neu := tensor.New(tensor.WithShape(w.Shape()...), tensor.WithBacking(data))
	meta := []Prop{{Key: "portwatch.threshold", Value: "0.5"}}
	out, err := Rewrite(b, map[string]*tensor.Dense{init.Name: neu}, meta)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := ReadModel(out)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m2.Metadata, meta) {
		t.Errorf("metadata: got %v, want %v", m2.Metadata, meta)
	}
	if len(m2.Graph.Nodes) != len(m.Graph.Nodes) || m2.Opset != m.Opset || m2.IRVersion != m.IRVersion {
		t.Errorf("envelope changed: got %d nodes opset %d ir %d, want %d, %d, %d",
			len(m2.Graph.Nodes), m2.Opset, m2.IRVersion, len(m.Graph.Nodes), m.Opset, m.IRVersion)
	}
	for i, it := range m2.Graph.Initializers {
		_, got, err := DecodeTensor(it.Proto)
		if err != nil {
			t.Fatal(err)
		}
		if it.Name == init.Name {
			if !slices.Equal(got.Float32s(), data) {
				t.Errorf("%s: new weights not written", it.Name)
			}
			continue
		}
		if !bytes.Equal(it.Proto, m.Graph.Initializers[i].Proto) {
			t.Errorf("%s: changed, want kept", it.Name)
		}
	}
	if _, err := Rewrite(b, map[string]*tensor.Dense{"nope": neu}, nil); err == nil {
		t.Error("rewrite of a missing initializer: got no error")
	}
	wrong := tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{1}))
	if _, err := Rewrite(b, map[string]*tensor.Dense{init.Name: wrong}, nil); err == nil {
		t.Error("rewrite with a wrong shape: got no error")
	}
}

func TestReadModelBad(t *testing.T) {
	good, err := os.ReadFile(conformance + "/test_add/model.onnx")
	if err != nil {
		t.Skipf("conformance cases not found: %v", err)
	}
	tensorFile, err := os.ReadFile(conformance + "/test_add/test_data_set_0/input_0.pb")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"text", []byte("this is not a model\n")},
		{"truncated", good[:len(good)/2]},
		{"tensor file", tensorFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReadModel(tt.b); err == nil {
				t.Error("got no error")
			}
		})
	}
}

// FuzzDecodeTensor: any bytes give a tensor or an error; a tensor decoded
// encodes and decodes back to the same shape.
// Seeds: testdata/fuzz/FuzzDecodeTensor, conformance .pb files.
func FuzzDecodeTensor(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		name, x, err := DecodeTensor(b)
		if err != nil {
			return
		}
		enc, err := AppendTensor(nil, name, x)
		if err != nil {
			t.Fatalf("encode a decoded tensor: %v", err)
		}
		_, y, err := DecodeTensor(enc)
		if err != nil {
			t.Fatalf("decode a re-encoded tensor: %v", err)
		}
		if !y.Shape().Eq(x.Shape()) || y.Dtype() != x.Dtype() {
			t.Fatalf("round trip: got %v %v, want %v %v", y.Dtype(), y.Shape(), x.Dtype(), x.Shape())
		}
	})
}

// TestRewriteKeepsTypedData: rewriting an initializer stored in float_data
// with its own values keeps the file; a changed value moves to raw_data.
func TestRewriteKeepsTypedData(t *testing.T) {
	var floats []byte
	for _, f := range []float32{1, 2} {
		floats = protowire.AppendFixed32(floats, math.Float32bits(f))
	}
	init := msg(vint(tDims, 2), vint(tDataType, 1), bytesF(tName, []byte("w")), bytesF(tFloatData, floats))
	model, err := Encode(&Spec{IRVersion: 8, Opset: 17,
		Nodes:   []NodeSpec{{Name: "id", OpType: "Identity", Inputs: []string{"w"}, Outputs: []string{"y"}}},
		Outputs: []ValueInfo{{Name: "y", ElemType: TypeFloat}}})
	if err != nil {
		t.Fatal(err)
	}
	// Splice the typed initializer into the graph.
	var withInit []byte
	err = walk(model, func(f field) error {
		if f.num == mGraph {
			withInit = appendMsg(withInit, mGraph, append(append([]byte(nil), f.val...), appendMsg(nil, gInitializer, init)...))
			return nil
		}
		withInit = append(withInit, f.raw...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	same := tensor.New(tensor.WithShape(2), tensor.WithBacking([]float32{1, 2}))
	got, err := Rewrite(withInit, map[string]*tensor.Dense{"w": same}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, withInit) {
		t.Error("unchanged typed initializer was rewritten")
	}
	changed := tensor.New(tensor.WithShape(2), tensor.WithBacking([]float32{1, 3}))
	got, err = Rewrite(withInit, map[string]*tensor.Dense{"w": changed}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := ReadModel(got)
	if err != nil {
		t.Fatal(err)
	}
	_, w, err := DecodeTensor(m2.Graph.Initializers[0].Proto)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(w.Float32s(), []float32{1, 3}) {
		t.Errorf("got %v, want [1 3]", w.Float32s())
	}
}
