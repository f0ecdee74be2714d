package engine

import (
	"fmt"

	"gorgonia.org/tensor"

	"portwatch/pkg/nn"
	"portwatch/pkg/onnx"
)

// Run computes the graph outputs from the named inputs (inference: Dropout
// passes values through).
func (m *Model) Run(inputs map[string]*tensor.Dense) (map[string]*tensor.Dense, error) {
	defer m.buffers.EndRun()
	t, err := m.forward(&nn.Pass{Buffers: m.buffers}, inputs, false)
	if err != nil {
		return nil, fmt.Errorf("run model %s: %w", m.name, err)
	}
	out := make(map[string]*tensor.Dense, len(m.outputs))
	for _, o := range m.outputs {
		out[o.Name] = t.values[o.Name]
	}
	return out, nil
}

// trace is what a forward pass leaves: the values still held and, when
// training, what each node saved for its backward pass.
type trace struct {
	values map[string]*tensor.Dense
	outs   [][]*tensor.Dense // every output of each node, in ONNX order
	saved  []any
}

// forward runs every node in order. Unless p.Train is set it drops each
// intermediate value after its last reader, so peak memory stays near the
// largest layer rather than the sum of them.
func (m *Model) forward(p *nn.Pass, inputs map[string]*tensor.Dense, train bool) (*trace, error) {
	if err := m.checkInputs(inputs); err != nil {
		return nil, err
	}
	values := make(map[string]*tensor.Dense, len(m.params)+len(inputs)+len(m.nodes))
	for name, t := range m.params {
		values[name] = t
	}
	for name, t := range inputs {
		values[name] = t
	}
	keep := map[string]bool{}
	for _, o := range m.outputs {
		keep[o.Name] = true
	}
	left := make(map[string]int, len(m.uses))
	for name, n := range m.uses {
		left[name] = n
	}
	t := &trace{values: values}
	if train {
		t.outs = make([][]*tensor.Dense, len(m.nodes))
		t.saved = make([]any, len(m.nodes))
	}
	in := make([]*tensor.Dense, 0, 8)
	if !train {
		p.Unread = make([]bool, 0, 8)
	}
	for i := range m.nodes {
		n := &m.nodes[i]
		in = in[:0]
		p.Spare = p.Spare[:0]
		for _, name := range n.in {
			t := values[name] // nil for an empty slot
			in = append(in, t)
			p.Spare = append(p.Spare, !train && left[name] == 1 && !keep[name] && p.Buffers.Issued(floats(t)) && !aliased(values, name, t))
		}
		if !train {
			p.Unread = p.Unread[:0]
			for _, name := range n.out {
				p.Unread = append(p.Unread, name == "" || left[name] == 0 && !keep[name])
			}
		}
		out, saved, err := runNode(n, p, in)
		if err != nil {
			return nil, err
		}
		if len(out) < len(n.out) {
			return nil, fmt.Errorf("node %s: %d outputs, the node names %d", n.name, len(out), len(n.out))
		}
		for j, name := range n.out {
			// An output nothing reads (a Dropout mask, an LSTM's unused Y)
			// is not kept beyond this node unless training needs it.
			if name != "" && (train || left[name] > 0 || keep[name]) {
				values[name] = out[j]
			}
		}
		if train {
			t.outs[i], t.saved[i] = out, saved
			continue
		}
		var dead []*tensor.Dense
		for _, name := range n.in {
			if left[name]--; left[name] == 0 && !keep[name] {
				dead = append(dead, values[name])
				delete(values, name)
			}
		}
		for _, d := range dead {
			if !aliased(values, "", d) {
				p.Buffers.Put(floats(d))
			}
		}
	}
	return t, nil
}

// floats is t's float32 backing, nil for another type or no tensor.
func floats(t *tensor.Dense) []float32 {
	if t == nil || t.Dtype() != tensor.Float32 {
		return nil
	}
	return t.Float32s()
}

// aliased reports whether a value other than the one named self shares
// memory with t: a view keeps t's buffer from being overwritten or reused.
func aliased(values map[string]*tensor.Dense, self string, t *tensor.Dense) bool {
	x := floats(t)
	for name, v := range values {
		if name != self && nn.Overlap(x, floats(v)) {
			return true
		}
	}
	return false
}

// runNode runs one kernel, turning a kernel panic into an error that names
// the node: a foreign model must not crash detect.
func runNode(n *node, p *nn.Pass, in []*tensor.Dense) (out []*tensor.Dense, saved any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("node %s: kernel panic: %v", n.name, r)
		}
	}()
	out, saved, err = n.op.Forward(p, in)
	if err != nil {
		return nil, nil, fmt.Errorf("node %s: %w", n.name, err)
	}
	return out, saved, nil
}

// checkInputs wants every graph input, of the declared element type and
// fixed dims, and no unknown names.
func (m *Model) checkInputs(inputs map[string]*tensor.Dense) error {
	declared := map[string]bool{}
	for _, in := range m.inputs {
		declared[in.Name] = true
		t, ok := inputs[in.Name]
		if !ok || t == nil {
			return fmt.Errorf("missing input %q", in.Name)
		}
		if err := checkValue(in, t); err != nil {
			return err
		}
	}
	for name := range inputs {
		if !declared[name] {
			return fmt.Errorf("the model has no input %q", name)
		}
	}
	return nil
}

func checkValue(v onnx.ValueInfo, t *tensor.Dense) error {
	if v.ElemType != 0 {
		got, err := onnx.ElemType(t.Dtype())
		if err != nil || got != v.ElemType {
			return fmt.Errorf("input %q: got %v, want %s", v.Name, t.Dtype(), onnx.TypeName(v.ElemType))
		}
	}
	if v.Dims == nil {
		return nil
	}
	shape := nn.Shape(t)
	bad := len(shape) != len(v.Dims)
	for i := 0; !bad && i < len(shape); i++ {
		d := v.Dims[i]
		bad = d.Param == "" && d.Value > 0 && int64(shape[i]) != d.Value
	}
	if bad {
		return fmt.Errorf("input %q: got shape %v, want %s", v.Name, shape, FormatDims(v.Dims))
	}
	return nil
}

// FormatDims writes dims as [N,10,3,65536], "?" for unknown ones.
func FormatDims(dims []onnx.Dim) string {
	s := "["
	for i, d := range dims {
		if i > 0 {
			s += ","
		}
		switch {
		case d.Param != "":
			s += d.Param
		case d.Value > 0:
			s += fmt.Sprint(d.Value)
		default:
			s += "?"
		}
	}
	return s + "]"
}
