package engine

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"portwatch/pkg/onnx"
)

// nested wraps inner levels times in the chain of length-delimited fields
// nums (outermost first), building the prefixes inside out so that a
// million levels take linear time.
func nested(levels int, nums []protowire.Number, inner []byte) []byte {
	var prefixes [][]byte
	size := len(inner)
	for range levels {
		for _, num := range slices.Backward(nums) {
			p := protowire.AppendTag(nil, num, protowire.BytesType)
			p = protowire.AppendVarint(p, uint64(size))
			size += len(p)
			prefixes = append(prefixes, p)
		}
	}
	out := make([]byte, 0, size)
	for _, p := range slices.Backward(prefixes) {
		out = append(out, p...)
	}
	return append(out, inner...)
}

func msg(num protowire.Number, body []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), body)
}

func str(num protowire.Number, s string) []byte { return msg(num, []byte(s)) }

func varint(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
}

// deepModel is a Relu model whose graph input's type is a sequence of
// sequences levels deep (TypeProto.sequence_type.elem_type...), or, with
// viaGraph, whose node carries a GRAPH attribute holding a node with a GRAPH
// attribute... levels deep.
func deepModel(levels int, viaGraph bool) []byte {
	tensorType := msg(1, varint(1, uint64(onnx.TypeFloat)))
	xType := tensorType
	var attr []byte
	if viaGraph {
		// node.attribute (5) -> attribute.g (6) -> graph.node (1) -> ...
		attr = nested(levels, []protowire.Number{5, 6, 1}, str(4, "Relu"))
	} else {
		xType = nested(levels, []protowire.Number{4, 1}, tensorType)
	}
	node := slices.Concat(str(1, "x"), str(2, "y"), str(4, "Relu"), attr)
	graph := slices.Concat(msg(1, node), str(2, "g"),
		msg(11, slices.Concat(str(1, "x"), msg(2, xType))),
		msg(12, slices.Concat(str(1, "y"), msg(2, tensorType))))
	return slices.Concat(varint(1, 8), msg(8, varint(2, 17)), msg(7, graph))
}

// TestDecodeNesting: a model nested a million levels deep (the crafted
// 32 MB file of the robustness sweep killed the process with a stack
// overflow inside onnx-go) is refused with a one-line error before onnx-go
// reads it; a shallow one of the same shape still decodes as far as its ops.
func TestDecodeNesting(t *testing.T) {
	tests := []struct {
		name     string
		levels   int
		viaGraph bool
		wantErr  string
	}{
		{"types a million deep", 1_000_000, false, "nest deeper than 64 levels"},
		{"subgraphs a million deep", 1_000_000, true, "nest deeper than 64 levels"},
		{"types 70 deep", 70, false, "nest deeper than 64 levels"},
		{"types 20 deep", 20, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(deepModel(tt.levels, tt.viaGraph), "deep.onnx")
			switch {
			case tt.wantErr == "" && err != nil && strings.Contains(err.Error(), "nest"):
				t.Fatalf("refused a shallow model for its depth: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

// oversizedModel is an Identity model whose initializer claims 2^40 floats
// and holds four bytes.
func oversizedModel() []byte {
	tensorType := msg(1, varint(1, uint64(onnx.TypeFloat)))
	init := slices.Concat(varint(1, 1<<40), varint(2, uint64(onnx.TypeFloat)), str(8, "w"), str(9, "\x00\x00\x80\x3f"))
	node := slices.Concat(str(1, "w"), str(2, "y"), str(4, "Identity"))
	graph := slices.Concat(msg(1, node), str(2, "g"), msg(5, init),
		msg(12, slices.Concat(str(1, "y"), msg(2, tensorType))))
	return slices.Concat(varint(1, 8), msg(8, varint(2, 17)), msg(7, graph))
}

// TestDecodeOversized: element counts beyond the bytes present are refused
// before anything is allocated for them.
func TestDecodeOversized(t *testing.T) {
	_, err := Decode(oversizedModel(), "big.onnx")
	if err == nil || !strings.Contains(err.Error(), "too large") && !strings.Contains(err.Error(), "dimension") {
		t.Fatalf("got %v, want a size error", err)
	}
}
