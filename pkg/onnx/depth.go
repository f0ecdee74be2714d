package onnx

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// MaxDepth bounds how deeply messages may nest in a model file. onnx-go's
// protobuf decoder recurses once per level with no limit of its own, so a
// crafted file nested a million levels deep kills the process with a stack
// overflow that recover cannot catch; real models nest about ten levels
// (model, graph, node, attribute, subgraph, ... , type, shape, dim).
const MaxDepth = 64

// kind is a message type of onnx.proto that holds other messages.
type kind int

const (
	kModel kind = iota
	kGraph
	kNode
	kAttribute
	kTensor
	kSparseTensor
	kValueInfo
	kType
	kTypeTensor // TypeProto.Tensor and SparseTensor: elem_type and shape
	kTypeElem   // TypeProto.Sequence and Optional: elem_type
	kTypeMap
	kShape
	kFunction
	kTrainingInfo
	kLeaf // a message holding no further messages (dims, string pairs, ...)
)

// child says which kind of message field num of a message of kind k holds:
// every field through which a protobuf decoder of onnx.proto recurses.
// Fields not listed are scalars, strings or bytes. A switch, not a map, so
// the table is no mutable package state.
func child(k kind, num protowire.Number) (kind, bool) {
	type key struct {
		k   kind
		num protowire.Number
	}
	switch (key{k, num}) {
	case key{kModel, 7}, key{kAttribute, 6}, key{kAttribute, 11}, key{kTrainingInfo, 1}, key{kTrainingInfo, 2}:
		return kGraph, true
	case key{kModel, 20}:
		return kTrainingInfo, true
	case key{kModel, 25}:
		return kFunction, true
	case key{kGraph, 1}, key{kFunction, 7}:
		return kNode, true
	case key{kNode, 5}, key{kFunction, 11}:
		return kAttribute, true
	case key{kGraph, 5}, key{kAttribute, 5}, key{kAttribute, 10}, key{kSparseTensor, 1}, key{kSparseTensor, 2}:
		return kTensor, true
	case key{kGraph, 15}, key{kAttribute, 22}, key{kAttribute, 23}:
		return kSparseTensor, true
	case key{kGraph, 11}, key{kGraph, 12}, key{kGraph, 13}, key{kFunction, 12}:
		return kValueInfo, true
	case key{kValueInfo, 2}, key{kAttribute, 14}, key{kAttribute, 15}, key{kTypeElem, 1}, key{kTypeMap, 2}:
		return kType, true
	case key{kType, 1}, key{kType, 8}:
		return kTypeTensor, true
	case key{kType, 4}, key{kType, 9}:
		return kTypeElem, true
	case key{kType, 5}:
		return kTypeMap, true
	case key{kTypeTensor, 2}:
		return kShape, true
	case key{kModel, 8}, key{kModel, 14}, key{kGraph, 14}, key{kTensor, 3}, key{kTensor, 13},
		key{kShape, 1}, key{kFunction, 13}, key{kTrainingInfo, 3}, key{kTrainingInfo, 4}:
		return kLeaf, true
	}
	return 0, false
}

// checkDepth refuses a ModelProto whose messages nest deeper than MaxDepth.
// It iterates with an explicit stack, so the check itself cannot overflow.
func checkDepth(b []byte) error {
	type frame struct {
		msg   []byte
		kind  kind
		depth int
	}
	stack := []frame{{b, kModel, 1}}
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		err := walk(top.msg, func(f field) error {
			k, ok := child(top.kind, f.num)
			if !ok || f.typ != protowire.BytesType || k == kLeaf {
				return nil
			}
			if top.depth >= MaxDepth {
				return fmt.Errorf("messages nest deeper than %d levels", MaxDepth)
			}
			stack = append(stack, frame{f.val, k, top.depth + 1})
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
