package engine

import (
	"fmt"

	"gorgonia.org/tensor"

	"portwatch/pkg/nn"
)

// gradPath marks the values gradients must reach: the float32
// initializers and everything computed from them.
func (m *Model) gradPath() map[string]bool {
	path := map[string]bool{}
	for name := range m.Params() {
		path[name] = true
	}
	for _, n := range m.nodes {
		for _, in := range n.in {
			if path[in] {
				for _, out := range n.out {
					if out != "" {
						path[out] = true
					}
				}
				break
			}
		}
	}
	return path
}

// backward propagates grad, the loss gradient of the value named output,
// through a training trace and returns the gradient of every parameter it
// reaches. Gradients of intermediate values are dropped once used.
func (m *Model) backward(tr *trace, path map[string]bool, output string, grad *tensor.Dense) (map[string]*tensor.Dense, error) {
	grads := map[string]*tensor.Dense{output: grad}
	for i := len(m.nodes) - 1; i >= 0; i-- {
		if err := m.backwardAt(i, tr, path, grads); err != nil {
			return nil, err
		}
		// Every reader of node i's outputs came after it and is done:
		// drop what the trace holds for it, so the large early layers'
		// backward passes do not run on top of the late layers' values.
		for _, name := range m.nodes[i].out {
			delete(tr.values, name)
		}
		tr.outs[i], tr.saved[i] = nil, nil
	}
	return grads, nil
}

// backwardAt runs node i's backward pass if a gradient reaches its outputs
// and one of its inputs is on the path, and adds its input gradients to
// grads.
func (m *Model) backwardAt(i int, tr *trace, path map[string]bool, grads map[string]*tensor.Dense) error {
	n := &m.nodes[i]
	gradOut := make([]*tensor.Dense, len(tr.outs[i]))
	reached := false
	for j, name := range n.out {
		if name != "" && grads[name] != nil {
			gradOut[j] = grads[name]
			delete(grads, name)
			reached = true
		}
	}
	if !reached || !reaches(n, path) {
		return nil
	}
	d, ok := n.op.(nn.Differentiable)
	if !ok {
		return fmt.Errorf("node %s is on the gradient path but has no backward pass", n.name)
	}
	in := make([]*tensor.Dense, len(n.in))
	for k, name := range n.in {
		in[k] = tr.values[name]
	}
	need := make([]bool, len(n.in))
	for k, name := range n.in {
		need[k] = path[name]
	}
	gradIn, err := backwardNode(n, d, need, in, tr.outs[i], gradOut, tr.saved[i])
	if err != nil {
		return err
	}
	for k, name := range n.in {
		if k >= len(gradIn) || gradIn[k] == nil || !path[name] {
			continue
		}
		if err := accumulate(grads, name, gradIn[k]); err != nil {
			return fmt.Errorf("node %s: gradient of %q: %w", n.name, name, err)
		}
	}
	return nil
}

func reaches(n *node, path map[string]bool) bool {
	for _, in := range n.in {
		if path[in] {
			return true
		}
	}
	return false
}

func backwardNode(n *node, d nn.Differentiable, need []bool, in, out, gradOut []*tensor.Dense, saved any) (gradIn []*tensor.Dense, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("node %s: backward panic: %v", n.name, r)
		}
	}()
	if p, ok := d.(nn.PartialDifferentiable); ok {
		gradIn, err = p.BackwardFor(need, in, out, gradOut, saved)
	} else {
		gradIn, err = d.Backward(in, out, gradOut, saved)
	}
	if err != nil {
		return nil, fmt.Errorf("node %s: backward: %w", n.name, err)
	}
	return gradIn, nil
}

// accumulate adds g to grads[name]. The sum goes to a fresh tensor: a
// kernel may hand back a gradient that aliases another (Identity, Reshape).
func accumulate(grads map[string]*tensor.Dense, name string, g *tensor.Dense) error {
	prev, ok := grads[name]
	if !ok {
		grads[name] = g
		return nil
	}
	a, err := nn.F32(prev)
	if err != nil {
		return err
	}
	b, err := nn.F32(g)
	if err != nil {
		return err
	}
	if len(a) != len(b) {
		return fmt.Errorf("%d values and %d values", len(a), len(b))
	}
	sum := make([]float32, len(a))
	for i := range sum {
		sum[i] = a[i] + b[i]
	}
	grads[name] = nn.NewF32(nn.Shape(prev), sum)
	return nil
}
