package nn

import (
	"fmt"
	"slices"
	"sort"

	"gorgonia.org/tensor"
)

// Attrs are a node's attributes as onnx-go decodes them: float32, int64,
// string, []float32, []int64, []string or tensor.Tensor.
type Attrs map[string]any

// Check refuses attributes outside known, so a model never runs with an
// attribute the kernel would silently ignore.
func (a Attrs) Check(op string, known ...string) error {
	var unknown []string
	for name := range a {
		if !slices.Contains(known, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return &UnsupportedError{Op: op, Reason: fmt.Sprintf("attribute %v not implemented", unknown)}
}

// attr returns attribute name as a T, or def when absent; kind names the
// ONNX attribute type for the error.
func attr[T any](a Attrs, name, kind string, def T) (T, error) {
	v, ok := a[name]
	if !ok {
		return def, nil
	}
	t, ok := v.(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("attribute %s: want %s, got %T", name, kind, v)
	}
	return t, nil
}

// Int returns an INT attribute, or def when absent.
func (a Attrs) Int(name string, def int64) (int64, error) { return attr(a, name, "int", def) }

// Ints returns an INTS attribute, or def when absent.
func (a Attrs) Ints(name string, def []int64) ([]int64, error) { return attr(a, name, "ints", def) }

// Float returns a FLOAT attribute, or def when absent.
func (a Attrs) Float(name string, def float32) (float32, error) { return attr(a, name, "float", def) }

// Floats returns a FLOATS attribute, or def when absent.
func (a Attrs) Floats(name string, def []float32) ([]float32, error) {
	return attr(a, name, "floats", def)
}

// String returns a STRING attribute, or def when absent.
func (a Attrs) String(name string, def string) (string, error) { return attr(a, name, "string", def) }

// Strings returns a STRINGS attribute, or def when absent.
func (a Attrs) Strings(name string, def []string) ([]string, error) {
	return attr(a, name, "strings", def)
}

// Tensor returns a TENSOR attribute; ok is false when absent.
func (a Attrs) Tensor(name string) (t *tensor.Dense, ok bool, err error) {
	v, ok := a[name]
	if !ok {
		return nil, false, nil
	}
	d, isDense := v.(*tensor.Dense)
	if !isDense {
		return nil, false, fmt.Errorf("attribute %s: want tensor, got %T", name, v)
	}
	return d, true, nil
}
