package engine

import (
	"errors"
	"fmt"
	"slices"

	onnxgo "github.com/owulveryck/onnx-go"
	"gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/simple"
	"gorgonia.org/tensor"

	"portwatch/pkg/nn"
	"portwatch/pkg/onnx"
)

// UnsupportedError says which node of which model uses an op, attribute or
// type the engine does not implement; it wraps the kernel's
// *nn.UnsupportedError.
type UnsupportedError struct {
	Model, Node string
	Err         *nn.UnsupportedError
}

func (e *UnsupportedError) Error() string {
	if e.Node == "" {
		return fmt.Sprintf("model %s: %v", e.Model, e.Err)
	}
	return fmt.Sprintf("model %s: node %s: %v", e.Model, e.Node, e.Err)
}

func (e *UnsupportedError) Unwrap() error { return e.Err }

// Decode builds a model from a serialized ONNX ModelProto; name identifies
// it in errors (usually its path). A truncated, corrupt or non-ONNX input
// gets an error, and so does any op the engine cannot run.
func Decode(b []byte, name string) (m *Model, err error) {
	// onnx-go is third-party code running on outside input: a panic in it
	// is a bad file, not a crash.
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("decode model %s: malformed model (decoder panic: %v)", name, r)
		}
	}()
	env, err := onnx.ReadModel(b)
	if err != nil {
		return nil, fmt.Errorf("decode model %s: %w", name, err)
	}
	if err := checkOps(env, name); err != nil {
		return nil, err
	}
	be := &backend{
		WeightedDirectedGraph: simple.NewWeightedDirectedGraph(0, 0),
		env:                   env,
		model:                 name,
	}
	lean, err := onnx.Lean(b)
	if err != nil {
		return nil, fmt.Errorf("decode model %s: %w", name, err)
	}
	if err := onnxgo.NewModel(be).UnmarshalBinary(lean); err != nil {
		var unsup *UnsupportedError
		if errors.As(err, &unsup) {
			return nil, unsup
		}
		return nil, fmt.Errorf("decode model %s: %w", name, err)
	}
	if len(be.nodes) != len(env.Graph.Nodes) {
		return nil, fmt.Errorf("decode model %s: onnx-go saw %d nodes, the file has %d", name, len(be.nodes), len(env.Graph.Nodes))
	}
	m, err = newModel(b, name, env, be.nodes)
	if err != nil {
		return nil, fmt.Errorf("decode model %s: %w", name, err)
	}
	return m, nil
}

// checkOps refuses, before onnx-go runs, any node outside the default
// domain or the supported ops, so the error names the node (onnx-go's own
// errors for, say, an If node's subgraph do not).
func checkOps(env *onnx.Model, model string) error {
	supported := nn.Supported()
	for i, n := range env.Graph.Nodes {
		reason := ""
		switch {
		case n.Domain != "":
			reason = fmt.Sprintf("domain %q not implemented by portwatch's engine", n.Domain)
		case !slices.Contains(supported, n.OpType):
			reason = "not implemented by portwatch's engine"
		}
		if reason != "" {
			return &UnsupportedError{Model: model, Node: nodeName(n, i), Err: &nn.UnsupportedError{Op: n.OpType, Reason: reason}}
		}
	}
	if env.Opset < 1 || env.Opset > maxOpset {
		return &UnsupportedError{Model: model, Err: &nn.UnsupportedError{Op: "opset", Reason: fmt.Sprintf("ai.onnx opset %d outside 1..%d", env.Opset, maxOpset)}}
	}
	return nil
}

// maxOpset is the newest ai.onnx opset accepted: the kernels follow the
// definitions up to 22, and from 23 to 25 the supported ops only gained
// element types the engine refuses anyway (the official cases use 25).
const maxOpset = 25

// backend receives onnx-go's decoded graph: it names every value node and
// keeps every edge (a gonum graph would merge Add(x, x)'s two edges).
type backend struct {
	*simple.WeightedDirectedGraph
	env     *onnx.Model
	model   string
	pending []graph.WeightedEdge // edges of the node being applied
	nodes   []node
}

// value is a graph node standing for one named tensor.
type value struct {
	id   int64
	name string
}

func (v *value) ID() int64             { return v.id }
func (v *value) SetName(s string)      { v.name = s }
func (v *value) GetName() string       { return v.name }
func (b *backend) NewNode() graph.Node { return &value{id: b.WeightedDirectedGraph.NewNode().ID()} }

var _ onnxgo.Namer = (*value)(nil)
var _ onnxgo.Backend = (*backend)(nil)

func (b *backend) SetWeightedEdge(e graph.WeightedEdge) { b.pending = append(b.pending, e) }

// ApplyOperation is called once per NodeProto, in file order, after the
// edges from each of its outputs to each of its inputs (weight = input
// position).
func (b *backend) ApplyOperation(op onnxgo.Operation, outputs ...graph.Node) error {
	k := len(b.nodes)
	edges := b.pending
	b.pending = nil
	if k >= len(b.env.Graph.Nodes) {
		return fmt.Errorf("onnx-go applied more nodes than the file has")
	}
	pb := b.env.Graph.Nodes[k]
	if op.Name != pb.OpType || len(outputs) != len(pb.Outputs) {
		return fmt.Errorf("node %d: onnx-go saw %s, the file has %s", k, op.Name, pb.OpType)
	}
	n := node{name: nodeName(pb, k), opType: pb.OpType}
	for _, o := range outputs {
		n.out = append(n.out, o.(*value).name)
	}
	// Edges come output by output; those of the first output give the
	// inputs in order. A node without inputs got a fake one from onnx-go.
	if len(pb.Inputs) > 0 && len(outputs) > 0 {
		for _, e := range edges[:len(edges)/len(outputs)] {
			n.in = append(n.in, e.To().(*value).name)
		}
	}
	if !slices.Equal(n.in, pb.Inputs) {
		return fmt.Errorf("node %q: onnx-go saw inputs %q, the file has %q", pb.Name, n.in, pb.Inputs)
	}
	attrs := nn.Attrs(op.Attributes)
	for name, proto := range pb.Tensors {
		// onnx-go saw a placeholder (see onnx.Lean); decode the real value.
		_, t, err := onnx.DecodeTensor(proto)
		if err != nil {
			return fmt.Errorf("node %s: attribute %s: %w", n.name, name, err)
		}
		attrs[name] = t
	}
	op2, err := nn.New(pb.OpType, int(b.env.Opset), attrs)
	if err != nil {
		var unsup *nn.UnsupportedError
		if errors.As(err, &unsup) {
			return &UnsupportedError{Model: b.model, Node: nodeName(pb, k), Err: unsup}
		}
		return fmt.Errorf("node %q (%s): %w", pb.Name, pb.OpType, err)
	}
	n.op = op2
	b.nodes = append(b.nodes, n)
	return nil
}

// nodeName quotes a node's name for messages, or numbers an unnamed one.
func nodeName(n onnx.Node, i int) string {
	if n.Name == "" {
		return fmt.Sprintf("#%d (%s)", i, n.OpType)
	}
	return fmt.Sprintf("%q (%s)", n.Name, n.OpType)
}

// node is one ONNX node ready to run.
type node struct {
	name, opType string
	op           nn.Op
	in, out      []string // "" is an optional slot left empty
}

// loadInitializers decodes every initializer; float ones are trainable.
func loadInitializers(env *onnx.Model) (map[string]*tensor.Dense, error) {
	params := make(map[string]*tensor.Dense, len(env.Graph.Initializers))
	for _, it := range env.Graph.Initializers {
		_, t, err := onnx.DecodeTensor(it.Proto)
		if err != nil {
			return nil, fmt.Errorf("initializer: %w", err)
		}
		params[it.Name] = t
	}
	return params, nil
}
