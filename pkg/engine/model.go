// Package engine runs, trains and saves ONNX models on portwatch's own
// kernels (pkg/nn).
//
// Load or Decode a model file; Run it on named input tensors; train its
// float initializers with a Trainer; Save the new weights back into the same
// file, atomically, keeping every other byte of it. Models are decoded with
// onnx-go; what it does not expose (node names, opsets, metadata, where the
// initializers sit) comes from pkg/onnx.
package engine

import (
	"fmt"
	"os"
	"slices"

	"gorgonia.org/tensor"

	"portwatch/pkg/nn"
	"portwatch/pkg/onnx"
)

// Model is a decoded ONNX model, ready to run. It is not safe for
// concurrent use: Run, a Trainer's Step and Save must not overlap.
type Model struct {
	name    string // path or other identity, for errors
	file    []byte // the original file, rewritten on Save
	env     *onnx.Model
	nodes   []node
	params  map[string]*tensor.Dense // initializers by name
	inputs  []onnx.ValueInfo         // graph inputs without an initializer, in order
	outputs []onnx.ValueInfo
	meta    []onnx.Prop
	uses    map[string]int // how many node inputs read each value
	buffers *nn.Buffers    // intermediates recycled from one Run to the next
}

// Load reads and decodes the model file at path.
func Load(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	return Decode(b, path)
}

func newModel(b []byte, name string, env *onnx.Model, nodes []node) (*Model, error) {
	params, err := loadInitializers(env)
	if err != nil {
		return nil, err
	}
	m := &Model{
		name:    name,
		file:    b,
		env:     env,
		nodes:   nodes,
		params:  params,
		outputs: env.Graph.Outputs,
		meta:    slices.Clone(env.Metadata),
		uses:    map[string]int{},
		buffers: nn.NewBuffers(),
	}
	known := map[string]bool{"": true}
	for name := range params {
		known[name] = true
	}
	for _, in := range env.Graph.Inputs {
		if _, ok := params[in.Name]; !ok {
			m.inputs = append(m.inputs, in)
		}
		known[in.Name] = true
	}
	// ONNX requires nodes in topological order; checking it here means Run
	// never meets a value that does not exist yet.
	for _, n := range nodes {
		for _, in := range n.in {
			if !known[in] {
				return nil, fmt.Errorf("node %s: input %q is not produced before it is used", n.name, in)
			}
			m.uses[in]++
		}
		for _, out := range n.out {
			known[out] = true
		}
	}
	for _, out := range m.outputs {
		if !known[out.Name] {
			return nil, fmt.Errorf("graph output %q is never produced", out.Name)
		}
	}
	return m, nil
}

// Name is the path or name the model was loaded from.
func (m *Model) Name() string { return m.name }

// Inputs lists the graph inputs to feed (initializers excluded), in order,
// with their element types and dims as the file declares them.
func (m *Model) Inputs() []onnx.ValueInfo { return m.inputs }

// Outputs lists the graph outputs in order.
func (m *Model) Outputs() []onnx.ValueInfo { return m.outputs }

// Opset is the ai.onnx opset the model imports.
func (m *Model) Opset() int64 { return m.env.Opset }

// IRVersion is the file's ONNX IR version.
func (m *Model) IRVersion() int64 { return m.env.IRVersion }

// Ops counts the model's nodes by op type.
func (m *Model) Ops() map[string]int {
	ops := map[string]int{}
	for _, n := range m.nodes {
		ops[n.opType]++
	}
	return ops
}

// Params returns the float32 initializers, the trainable parameters, by
// name. The tensors are the model's own: changing them changes the model.
func (m *Model) Params() map[string]*tensor.Dense {
	out := map[string]*tensor.Dense{}
	for name, t := range m.params {
		if t.Dtype() == tensor.Float32 {
			out[name] = t
		}
	}
	return out
}

// ParamCount is the number of trainable (float32) parameter values.
func (m *Model) ParamCount() int {
	n := 0
	for _, t := range m.Params() {
		n += nn.Size(nn.Shape(t)) // a scalar counts one
	}
	return n
}

// Metadata returns the model's metadata_props.
func (m *Model) Metadata() map[string]string {
	out := make(map[string]string, len(m.meta))
	for _, p := range m.meta {
		out[p.Key] = p.Value
	}
	return out
}

// DeleteMetadata removes one metadata_props entry, if there is one.
func (m *Model) DeleteMetadata(key string) {
	m.meta = slices.DeleteFunc(m.meta, func(p onnx.Prop) bool { return p.Key == key })
}

// SetMetadata sets one metadata_props entry, written by the next Save.
func (m *Model) SetMetadata(key, value string) {
	for i, p := range m.meta {
		if p.Key == key {
			m.meta[i].Value = value
			return
		}
	}
	m.meta = append(m.meta, onnx.Prop{Key: key, Value: value})
}
