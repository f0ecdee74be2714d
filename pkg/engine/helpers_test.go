package engine

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"gorgonia.org/tensor"

	"portwatch/pkg/nn"
	"portwatch/pkg/onnx"
)

// readTensor decodes a TensorProto .pb file.
func readTensor(path string) (string, *tensor.Dense, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	name, t, err := onnx.DecodeTensor(b)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	return name, t, nil
}

// closeTo reports the first element where got and want differ by more than
// atol + rtol*|want| (exact equality for integers and bools), or a
// type or shape mismatch.
func closeTo(got, want *tensor.Dense, rtol, atol float64) error {
	if got == nil {
		return fmt.Errorf("no value")
	}
	if got.Dtype() != want.Dtype() {
		return fmt.Errorf("got dtype %v, want %v", got.Dtype(), want.Dtype())
	}
	if gs, ws := nn.Shape(got), nn.Shape(want); !slices.Equal(gs, ws) {
		return fmt.Errorf("got shape %v, want %v", gs, ws)
	}
	g, w := asFloats(got), asFloats(want)
	for i := range w {
		if math.IsNaN(w[i]) && math.IsNaN(g[i]) {
			continue
		}
		if d := math.Abs(g[i] - w[i]); !(d <= atol+rtol*math.Abs(w[i])) {
			return fmt.Errorf("[%d]: got %g, want %g", i, g[i], w[i])
		}
	}
	return nil
}

func asFloats(t *tensor.Dense) []float64 {
	var out []float64
	if !t.IsScalar() && t.Shape().TotalSize() == 0 {
		return nil // Data panics on an empty tensor
	}
	switch v := t.Data().(type) {
	case []float32:
		for _, x := range v {
			out = append(out, float64(x))
		}
	case float32:
		out = append(out, float64(v))
	case []float64:
		out = v
	case float64:
		out = append(out, v)
	case []int64:
		for _, x := range v {
			out = append(out, float64(x))
		}
	case int64:
		out = append(out, float64(v))
	case []int32:
		for _, x := range v {
			out = append(out, float64(x))
		}
	case int32:
		out = append(out, float64(v))
	case []bool:
		for _, x := range v {
			out = append(out, float64(boolInt(x)))
		}
	case bool:
		out = append(out, float64(boolInt(v)))
	case []uint8:
		for _, x := range v {
			out = append(out, float64(x))
		}
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// dataSet is one test_data_set_K folder: inputs bound to the model's input
// names and the expected outputs by output name.
type dataSet struct {
	dir           string
	inputs, wants map[string]*tensor.Dense
}

// readDataSets reads every test_data_set_* under caseDir. A .pb without a
// name (pytorch-converted cases) binds by position.
func readDataSets(caseDir string, m *Model) ([]dataSet, error) {
	dirs, err := filepath.Glob(filepath.Join(caseDir, "test_data_set_*"))
	if err != nil {
		return nil, err
	}
	var sets []dataSet
	for _, dir := range dirs {
		ds := dataSet{dir: dir}
		if ds.inputs, err = readBound(dir, "input", m.Inputs()); err != nil {
			return nil, err
		}
		if ds.wants, err = readBound(dir, "output", m.Outputs()); err != nil {
			return nil, err
		}
		sets = append(sets, ds)
	}
	return sets, nil
}

func readBound(dir, prefix string, decl []onnx.ValueInfo) (map[string]*tensor.Dense, error) {
	out := map[string]*tensor.Dense{}
	for i := 0; ; i++ {
		path := filepath.Join(dir, fmt.Sprintf("%s_%d.pb", prefix, i))
		if _, err := os.Stat(path); err != nil {
			break
		}
		name, t, err := readTensor(path)
		if err != nil {
			return nil, err
		}
		if name == "" {
			if i >= len(decl) {
				return nil, fmt.Errorf("%s: unnamed, and the model declares only %d", path, len(decl))
			}
			name = decl[i].Name
		}
		out[name] = t
	}
	return out, nil
}
