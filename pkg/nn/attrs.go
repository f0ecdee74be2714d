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

// Int returns an INT attribute, or def when absent.
func (a Attrs) Int(name string, def int64) (int64, error) {
	v, ok := a[name]
	if !ok {
		return def, nil
	}
	i, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("attribute %s: want int, got %T", name, v)
	}
	return i, nil
}

// Ints returns an INTS attribute, or def when absent.
func (a Attrs) Ints(name string, def []int64) ([]int64, error) {
	v, ok := a[name]
	if !ok {
		return def, nil
	}
	i, ok := v.([]int64)
	if !ok {
		return nil, fmt.Errorf("attribute %s: want ints, got %T", name, v)
	}
	return i, nil
}

// Float returns a FLOAT attribute, or def when absent.
func (a Attrs) Float(name string, def float32) (float32, error) {
	v, ok := a[name]
	if !ok {
		return def, nil
	}
	f, ok := v.(float32)
	if !ok {
		return 0, fmt.Errorf("attribute %s: want float, got %T", name, v)
	}
	return f, nil
}

// Floats returns a FLOATS attribute, or def when absent.
func (a Attrs) Floats(name string, def []float32) ([]float32, error) {
	v, ok := a[name]
	if !ok {
		return def, nil
	}
	f, ok := v.([]float32)
	if !ok {
		return nil, fmt.Errorf("attribute %s: want floats, got %T", name, v)
	}
	return f, nil
}

// String returns a STRING attribute, or def when absent.
func (a Attrs) String(name string, def string) (string, error) {
	v, ok := a[name]
	if !ok {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("attribute %s: want string, got %T", name, v)
	}
	return s, nil
}

// Strings returns a STRINGS attribute, or def when absent.
func (a Attrs) Strings(name string, def []string) ([]string, error) {
	v, ok := a[name]
	if !ok {
		return def, nil
	}
	s, ok := v.([]string)
	if !ok {
		return nil, fmt.Errorf("attribute %s: want strings, got %T", name, v)
	}
	return s, nil
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
