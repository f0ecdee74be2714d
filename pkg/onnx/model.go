// Package onnx reads and writes the ONNX file format for portwatch's engine.
//
// It is deliberately small: onnx-go decodes the graph (ops, attributes,
// wiring); this package reads what onnx-go does not expose (the model
// envelope: IR version, opsets, metadata, node names, graph inputs and
// outputs in order, where each initializer sits), decodes and encodes
// TensorProtos, rewrites a model with new weights while keeping every other
// byte, and encodes a complete ModelProto for the models portwatch builds.
package onnx

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// ModelProto, GraphProto, NodeProto and ValueInfoProto field numbers.
const (
	mIRVersion     = 1
	mProducerName  = 2
	mProducerVer   = 3
	mGraph         = 7
	mOpsetImport   = 8
	mMetadataProps = 14

	gNode        = 1
	gName        = 2
	gInitializer = 5
	gInput       = 11
	gOutput      = 12
	gValueInfo   = 13

	nInput     = 1
	nOutput    = 2
	nName      = 3
	nOpType    = 4
	nAttribute = 5
	nDomain    = 7

	vName = 1
	vType = 2
)

// Model is the envelope of an ONNX ModelProto.
type Model struct {
	IRVersion int64
	Producer  string
	// Opset is the version imported for the default (ai.onnx) domain.
	Opset int64
	// Domains lists every imported domain (default domain as "").
	Domains  map[string]int64
	Metadata []Prop
	Graph    Graph
}

// Prop is one metadata_props entry.
type Prop struct{ Key, Value string }

// Graph is the part of a GraphProto the engine needs beside onnx-go's view.
type Graph struct {
	Name         string
	Nodes        []Node
	Inputs       []ValueInfo // graph inputs, initializers included when listed
	Outputs      []ValueInfo
	Initializers []Initializer
}

// Node is a NodeProto's identity and wiring.
type Node struct {
	Name, OpType, Domain string
	Inputs, Outputs      []string // "" marks an optional slot left empty
	// Tensors holds the node's TENSOR attributes, still encoded, by name.
	Tensors map[string][]byte
}

// ValueInfo is a named tensor type: element type and dims.
type ValueInfo struct {
	Name     string
	ElemType int32
	Dims     []Dim // nil when the shape is unknown
}

// Dim is one dimension: a fixed size, or a symbolic name (Param) or unknown.
type Dim struct {
	Value int64
	Param string
}

// Initializer is a named TensorProto in the graph, still encoded.
type Initializer struct {
	Name  string
	Proto []byte
}

// ReadModel reads the envelope of a serialized ModelProto. A file that is not
// a ModelProto with a graph gets an error.
func ReadModel(b []byte) (*Model, error) {
	m := &Model{Domains: map[string]int64{}}
	var graph []byte
	hasGraph := false
	err := walk(b, func(f field) error {
		var err error
		switch f.num {
		case mIRVersion:
			m.IRVersion, err = f.varint()
		case mProducerName:
			m.Producer, err = f.str()
		case mGraph:
			graph, err = f.bytes()
			hasGraph = true
		case mOpsetImport:
			var domain string
			var version int64
			if err = f.want(protowire.BytesType); err == nil {
				err = walk(f.val, func(f field) error {
					var err error
					switch f.num {
					case 1:
						domain, err = f.str()
					case 2:
						version, err = f.varint()
					}
					return err
				})
			}
			if domain == "ai.onnx" {
				domain = ""
			}
			m.Domains[domain] = version
		case mMetadataProps:
			var p Prop
			if p, err = readProp(f); err == nil {
				m.Metadata = append(m.Metadata, p)
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("not an ONNX model, or a truncated one: %w", err)
	}
	if !hasGraph || m.IRVersion <= 0 {
		return nil, errors.New("not an ONNX model: no IR version or no graph")
	}
	// Bounded before anything recursive (onnx-go included) reads the bytes.
	if err := checkDepth(b); err != nil {
		return nil, fmt.Errorf("malformed ONNX model: %w", err)
	}
	m.Opset = m.Domains[""]
	if m.Opset == 0 && m.IRVersion < 3 {
		m.Opset = 1 // before opset_import existed
	}
	if err := m.Graph.read(graph); err != nil {
		return nil, fmt.Errorf("read graph: %w", err)
	}
	return m, nil
}

func readProp(f field) (Prop, error) {
	var p Prop
	if err := f.want(protowire.BytesType); err != nil {
		return p, err
	}
	err := walk(f.val, func(f field) error {
		var err error
		switch f.num {
		case 1:
			p.Key, err = f.str()
		case 2:
			p.Value, err = f.str()
		}
		return err
	})
	return p, err
}

func (g *Graph) read(b []byte) error {
	return walk(b, func(f field) error {
		switch f.num {
		case gName, gNode, gInitializer, gInput, gOutput:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
		}
		switch f.num {
		case gName:
			g.Name = string(f.val)
		case gNode:
			n, err := readNode(f.val)
			if err != nil {
				return fmt.Errorf("node %d: %w", len(g.Nodes), err)
			}
			g.Nodes = append(g.Nodes, n)
		case gInitializer:
			r, err := parseTensor(f.val)
			if err != nil {
				return fmt.Errorf("initializer %d: %w", len(g.Initializers), err)
			}
			g.Initializers = append(g.Initializers, Initializer{Name: r.name, Proto: f.val})
		case gInput, gOutput:
			v, err := readValueInfo(f.val)
			if err != nil {
				return fmt.Errorf("graph input or output: %w", err)
			}
			if f.num == gInput {
				g.Inputs = append(g.Inputs, v)
			} else {
				g.Outputs = append(g.Outputs, v)
			}
		}
		return nil
	})
}

func readNode(b []byte) (Node, error) {
	var n Node
	err := walk(b, func(f field) error {
		var s string
		var err error
		switch f.num {
		case nInput, nOutput, nName, nOpType, nDomain:
			s, err = f.str()
		}
		switch f.num {
		case nInput:
			n.Inputs = append(n.Inputs, s)
		case nOutput:
			n.Outputs = append(n.Outputs, s)
		case nName:
			n.Name = s
		case nOpType:
			n.OpType = s
		case nDomain:
			n.Domain = s
		case nAttribute:
			err = n.readAttr(f)
		}
		return err
	})
	if n.Domain == "ai.onnx" {
		n.Domain = ""
	}
	return n, err
}

// readAttr keeps a TENSOR attribute's encoded value.
func (n *Node) readAttr(f field) error {
	if err := f.want(protowire.BytesType); err != nil {
		return err
	}
	var name string
	var t []byte
	err := walk(f.val, func(f field) error {
		var err error
		switch f.num {
		case aName:
			name, err = f.str()
		case aT:
			t, err = f.bytes()
		}
		return err
	})
	if err != nil || t == nil {
		return err
	}
	if n.Tensors == nil {
		n.Tensors = map[string][]byte{}
	}
	n.Tensors[name] = t
	return nil
}

func readValueInfo(b []byte) (ValueInfo, error) {
	var v ValueInfo
	err := walk(b, func(f field) error {
		switch f.num {
		case vName:
			var err error
			v.Name, err = f.str()
			return err
		case vType:
			return v.readType(f)
		}
		return nil
	})
	return v, err
}

// readType reads TypeProto.tensor_type: elem_type and shape.
func (v *ValueInfo) readType(f field) error {
	if err := f.want(protowire.BytesType); err != nil {
		return err
	}
	return walk(f.val, func(f field) error {
		if f.num != 1 {
			return nil // sequence, map, optional: left untyped
		}
		if err := f.want(protowire.BytesType); err != nil {
			return err
		}
		return walk(f.val, func(f field) error {
			switch f.num {
			case 1:
				t, err := f.varint()
				v.ElemType = int32(t)
				return err
			case 2:
				return v.readShape(f)
			}
			return nil
		})
	})
}

// readShape reads TensorShapeProto: one Dim per dim entry.
func (v *ValueInfo) readShape(f field) error {
	if err := f.want(protowire.BytesType); err != nil {
		return err
	}
	v.Dims = []Dim{}
	return walk(f.val, func(f field) error {
		if f.num != 1 {
			return nil
		}
		if err := f.want(protowire.BytesType); err != nil {
			return err
		}
		var d Dim
		err := walk(f.val, func(f field) error {
			var err error
			switch f.num {
			case 1:
				d.Value, err = f.varint()
			case 2:
				d.Param, err = f.str()
			}
			return err
		})
		v.Dims = append(v.Dims, d)
		return err
	})
}
