package onnx

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
	"gorgonia.org/tensor"
)

// Spec describes a complete model for Encode.
type Spec struct {
	IRVersion       int64
	Opset           int64
	Producer        string
	ProducerVersion string
	GraphName       string
	Nodes           []NodeSpec
	Inputs, Outputs []ValueInfo
	Initializers    []NamedTensor
	Metadata        []Prop
}

// NodeSpec is one node to encode.
type NodeSpec struct {
	Name, OpType    string
	Inputs, Outputs []string
	Attrs           []Attr
}

// Attr is a node attribute: Value is int64, []int64, float32, []float32,
// string, []string or *tensor.Dense.
type Attr struct {
	Name  string
	Value any
}

// NamedTensor is an initializer to encode.
type NamedTensor struct {
	Name   string
	Tensor *tensor.Dense
}

// AttributeProto field numbers and AttributeType values.
const (
	aName     = 1
	aF        = 2
	aI        = 3
	aS        = 4
	aT        = 5
	aFloats   = 7
	aInts     = 8
	aStrings  = 9
	aType     = 20
	atFloat   = 1
	atInt     = 2
	atString  = 3
	atTensor  = 4
	atFloats  = 6
	atInts    = 7
	atStrings = 8
)

// Encode serializes s as an ONNX ModelProto.
func Encode(s *Spec) ([]byte, error) {
	var g []byte
	for _, n := range s.Nodes {
		nb, err := appendNode(nil, n)
		if err != nil {
			return nil, fmt.Errorf("encode node %s: %w", n.Name, err)
		}
		g = appendMsg(g, gNode, nb)
	}
	g = appendStr(g, gName, s.GraphName)
	for _, it := range s.Initializers {
		tb, err := AppendTensor(nil, it.Name, it.Tensor)
		if err != nil {
			return nil, err
		}
		g = appendMsg(g, gInitializer, tb)
	}
	for _, v := range s.Inputs {
		g = appendMsg(g, gInput, appendValueInfo(nil, v))
	}
	for _, v := range s.Outputs {
		g = appendMsg(g, gOutput, appendValueInfo(nil, v))
	}

	var m []byte
	m = appendVarint(m, mIRVersion, uint64(s.IRVersion))
	m = appendStr(m, mProducerName, s.Producer)
	m = appendStr(m, mProducerVer, s.ProducerVersion)
	m = appendMsg(m, mGraph, g)
	var op []byte
	op = appendStr(op, 1, "")
	op = appendVarint(op, 2, uint64(s.Opset))
	m = appendMsg(m, mOpsetImport, op)
	return appendProps(m, s.Metadata), nil
}

func appendMsg(dst []byte, num protowire.Number, msg []byte) []byte {
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendBytes(dst, msg)
}

func appendStr(dst []byte, num protowire.Number, s string) []byte {
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendString(dst, s)
}

func appendVarint(dst []byte, num protowire.Number, v uint64) []byte {
	dst = protowire.AppendTag(dst, num, protowire.VarintType)
	return protowire.AppendVarint(dst, v)
}

func appendNode(dst []byte, n NodeSpec) ([]byte, error) {
	for _, in := range n.Inputs {
		dst = appendStr(dst, nInput, in)
	}
	for _, out := range n.Outputs {
		dst = appendStr(dst, nOutput, out)
	}
	dst = appendStr(dst, nName, n.Name)
	dst = appendStr(dst, nOpType, n.OpType)
	for _, a := range n.Attrs {
		ab, err := appendAttr(nil, a)
		if err != nil {
			return nil, err
		}
		dst = appendMsg(dst, nAttribute, ab)
	}
	return dst, nil
}

func appendAttr(dst []byte, a Attr) ([]byte, error) {
	dst = appendStr(dst, aName, a.Name)
	switch v := a.Value.(type) {
	case int64:
		dst = appendVarint(dst, aI, uint64(v))
		return appendVarint(dst, aType, atInt), nil
	case float32:
		dst = protowire.AppendTag(dst, aF, protowire.Fixed32Type)
		dst = protowire.AppendFixed32(dst, math.Float32bits(v))
		return appendVarint(dst, aType, atFloat), nil
	case string:
		dst = appendStr(dst, aS, v)
		return appendVarint(dst, aType, atString), nil
	case []int64:
		var p []byte
		for _, x := range v {
			p = protowire.AppendVarint(p, uint64(x))
		}
		dst = appendMsg(dst, aInts, p)
		return appendVarint(dst, aType, atInts), nil
	case []float32:
		var p []byte
		for _, x := range v {
			p = protowire.AppendFixed32(p, math.Float32bits(x))
		}
		dst = appendMsg(dst, aFloats, p)
		return appendVarint(dst, aType, atFloats), nil
	case []string:
		for _, x := range v {
			dst = appendStr(dst, aStrings, x)
		}
		return appendVarint(dst, aType, atStrings), nil
	case *tensor.Dense:
		tb, err := AppendTensor(nil, "", v)
		if err != nil {
			return nil, err
		}
		dst = appendMsg(dst, aT, tb)
		return appendVarint(dst, aType, atTensor), nil
	}
	return nil, fmt.Errorf("attribute %s: value of type %T", a.Name, a.Value)
}

func appendValueInfo(dst []byte, v ValueInfo) []byte {
	var shape []byte
	for _, d := range v.Dims {
		var db []byte
		if d.Param != "" {
			db = appendStr(db, 2, d.Param)
		} else {
			db = appendVarint(db, 1, uint64(d.Value))
		}
		shape = appendMsg(shape, 1, db)
	}
	var tt []byte
	tt = appendVarint(tt, 1, uint64(v.ElemType))
	if v.Dims != nil {
		tt = appendMsg(tt, 2, shape)
	}
	dst = appendStr(dst, vName, v.Name)
	return appendMsg(dst, vType, appendMsg(nil, 1, tt))
}
