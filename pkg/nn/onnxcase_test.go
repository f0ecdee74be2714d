package nn

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/owulveryck/onnx-go"
	"gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/simple"
	"gorgonia.org/tensor"
)

// The ONNX conformance cases and real exports shared by the team, in the
// shared folder beside the repository (relative to this package's folder, so
// any clone finds them); tests that need them skip when the folder is missing.
const (
	conformanceDir = "../../../shared/onnx-conformance"
	modelsDir      = "../../../shared/onnx-models"
)

// caseNode is one node of a decoded model: op type, attributes and the names
// of its inputs and outputs in order ("" for an optional one left empty).
type caseNode struct {
	op              string
	attrs           Attrs
	inputs, outputs []string
}

// caseGraph is an onnx-go backend that keeps what the kernels need and onnx-go's
// own simple backend drops: attributes, initializers and the order of every
// input edge (repeated empty inputs share one graph edge).
type caseGraph struct {
	*simple.WeightedDirectedGraph
	edges []graph.WeightedEdge
	nodes []caseNode
}

// caseValue is a named value of the graph, holding its tensor if it has one.
type caseValue struct {
	id    int64
	name  string
	value tensor.Tensor
}

func (v *caseValue) ID() int64                       { return v.id }
func (v *caseValue) SetName(s string)                { v.name = s }
func (v *caseValue) GetName() string                 { return v.name }
func (v *caseValue) SetTensor(t tensor.Tensor) error { v.value = t; return nil }
func (v *caseValue) GetTensor() tensor.Tensor        { return v.value }

func (g *caseGraph) NewNode() graph.Node {
	return &caseValue{id: g.WeightedDirectedGraph.NewNode().ID()}
}

func (g *caseGraph) SetWeightedEdge(e graph.WeightedEdge) {
	g.edges = append(g.edges, e)
	g.WeightedDirectedGraph.SetWeightedEdge(e)
}

func (g *caseGraph) ApplyOperation(o onnx.Operation, outs ...graph.Node) error {
	var ins []graph.WeightedEdge
	for _, e := range g.edges {
		if e.From().ID() == outs[0].ID() {
			ins = append(ins, e)
		}
	}
	g.edges = g.edges[:0]
	slices.SortFunc(ins, func(a, b graph.WeightedEdge) int { return int(a.Weight() - b.Weight()) })
	n := caseNode{op: o.Name, attrs: Attrs(o.Attributes)}
	for _, v := range outs {
		n.outputs = append(n.outputs, v.(*caseValue).GetName())
	}
	for _, e := range ins {
		n.inputs = append(n.inputs, e.To().(*caseValue).GetName())
	}
	g.nodes = append(g.nodes, n)
	return nil
}

// readModel decodes an ONNX file into its nodes, its initializers by name and
// the names of its graph inputs (initializers aside) and outputs in order.
func readModel(t *testing.T, path string) (nodes []caseNode, inits map[string]*tensor.Dense, inputs, outputs []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("model not available: %v", err)
	}
	g := &caseGraph{WeightedDirectedGraph: simple.NewWeightedDirectedGraph(0, 0)}
	m := onnx.NewModel(g)
	if err := m.UnmarshalBinary(b); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	// onnx-go gives graph inputs and outputs an empty tensor of their
	// declared shape too; they are not initializers.
	io := append(slices.Clone(m.Input), m.Output...)
	for _, id := range m.Input {
		inputs = append(inputs, g.Node(id).(*caseValue).GetName())
	}
	for _, id := range m.Output {
		outputs = append(outputs, g.Node(id).(*caseValue).GetName())
	}
	inits = map[string]*tensor.Dense{}
	for it := g.Nodes(); it.Next(); {
		n := it.Node().(*caseValue)
		if d, ok := n.GetTensor().(*tensor.Dense); ok && d != nil && !slices.Contains(io, n.ID()) {
			inits[n.GetName()] = d
		}
	}
	return g.nodes, inits, inputs, outputs
}

// readPB decodes one serialized TensorProto.
func readPB(t *testing.T, path string) *tensor.Dense {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	v, err := onnx.NewTensor(b)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return v.(*tensor.Dense)
}

// readPBs reads prefix_0.pb, prefix_1.pb... from dir until one is missing.
func readPBs(t *testing.T, dir, prefix string) []*tensor.Dense {
	t.Helper()
	var ts []*tensor.Dense
	for i := 0; ; i++ {
		p := filepath.Join(dir, prefix+"_"+string(rune('0'+i))+".pb")
		if _, err := os.Stat(p); err != nil {
			return ts
		}
		ts = append(ts, readPB(t, p))
	}
}

// runCase runs the single node of an ONNX test case (model.onnx plus
// test_data_set_0) and compares every output the case stores. The data
// files bind to the graph inputs and outputs in order.
func runCase(t *testing.T, dir string, rtol, atol float64) {
	t.Helper()
	nodes, inits, inputs, outputs := readModel(t, filepath.Join(dir, "model.onnx"))
	if len(nodes) != 1 {
		t.Fatalf("%s: want one node, got %d", dir, len(nodes))
	}
	n := nodes[0]
	data := filepath.Join(dir, "test_data_set_0")
	feeds := readPBs(t, data, "input")
	want := readPBs(t, data, "output")
	if len(feeds) != len(inputs) {
		t.Fatalf("%s: %d data files for graph inputs %q", dir, len(feeds), inputs)
	}
	in := make([]*tensor.Dense, len(n.inputs))
	for i, name := range n.inputs {
		if j := slices.Index(inputs, name); j >= 0 {
			in[i] = feeds[j]
		} else if name != "" {
			if in[i] = inits[name]; in[i] == nil {
				t.Fatalf("%s: input %q is neither a graph input nor an initializer", dir, name)
			}
		}
	}
	op, err := New(n.op, 22, n.attrs)
	if err != nil {
		t.Fatalf("%s: new %s: %v", dir, n.op, err)
	}
	out, _, err := op.Forward(&Pass{}, in)
	if err != nil {
		t.Fatalf("%s: forward: %v", dir, err)
	}
	if len(want) != len(outputs) {
		t.Fatalf("%s: %d data files for graph outputs %q", dir, len(want), outputs)
	}
	for k, w := range want {
		j := slices.Index(n.outputs, outputs[k])
		if j < 0 || j >= len(out) {
			t.Fatalf("%s: graph output %q is not an output of the node", dir, outputs[k])
		}
		compareTensors(t, filepath.Base(dir)+" "+outputs[k], out[j], w, rtol, atol)
	}
}

// compareTensors checks shape and values: |got-want| <= atol + rtol·|want|.
func compareTensors(t *testing.T, what string, got, want *tensor.Dense, rtol, atol float64) {
	t.Helper()
	if !slices.Equal(Shape(got), Shape(want)) {
		t.Fatalf("%s: shape %v, want %v", what, Shape(got), Shape(want))
	}
	if want.Dtype() == tensor.Int64 {
		if !slices.Equal(got.Int64s(), want.Int64s()) {
			t.Errorf("%s: got %v, want %v", what, got.Int64s(), want.Int64s())
		}
		return
	}
	g, w := got.Float32s(), want.Float32s()
	bad := 0
	for i := range w {
		d := float64(g[i]) - float64(w[i])
		if d < 0 {
			d = -d
		}
		if lim := atol + rtol*abs64(float64(w[i])); d > lim || d != d {
			if bad++; bad <= 5 {
				t.Errorf("%s [%d]: got %g, want %g", what, i, g[i], w[i])
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d values out of tolerance", what, bad)
	}
}

func abs64(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
