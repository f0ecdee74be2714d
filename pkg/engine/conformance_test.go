package engine

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"portwatch/pkg/nn"
	"portwatch/pkg/onnx"
)

// The ONNX backend runner's tolerance.
const (
	conformanceRtol = 1e-3
	conformanceAtol = 1e-7
)

// caseDirs lists the case folders (holding model.onnx) under each root,
// or the root itself when it is a case.
func caseDirs(t *testing.T, roots ...string) []string {
	t.Helper()
	var dirs []string
	for _, root := range roots {
		if _, err := os.Stat(filepath.Join(root, "model.onnx")); err == nil {
			dirs = append(dirs, root)
			continue
		}
		found, err := filepath.Glob(filepath.Join(root, "*", "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		if len(found) == 0 {
			t.Errorf("%s: no model.onnx in it or its subfolders", root)
		}
		for _, f := range found {
			dirs = append(dirs, filepath.Dir(f))
		}
	}
	return dirs
}

// TestConformance runs every official ONNX case whose ops are supported,
// the real PyTorch-exported LSTMs, and the cases named in
// PORTWATCH_ONNX_CASES, against their expected outputs.
func TestConformance(t *testing.T) {
	const shared = "../../../shared/"
	if _, err := os.Stat(shared + "onnx-conformance"); err != nil {
		t.Skipf("conformance cases not found: %v", err)
	}
	roots := []string{shared + "onnx-conformance", shared + "onnx-conformance/pytorch-converted", shared + "onnx-models"}
	if env := os.Getenv("PORTWATCH_ONNX_CASES"); env != "" {
		roots = append(roots, strings.Split(env, ":")...)
	}
	var passed, failed int
	var unsupported []string
	for _, dir := range caseDirs(t, roots...) {
		name := strings.TrimPrefix(dir, shared)
		why := ""
		ok := t.Run(name, func(t *testing.T) {
			if reason, skip := unsupportedCase(t, dir); skip {
				why = reason
				t.Skipf("unsupported: %s", reason)
			}
			runCase(t, dir)
		})
		switch {
		case why != "":
			unsupported = append(unsupported, name+": "+why)
		case ok:
			passed++
		default:
			failed++
		}
	}
	t.Logf("conformance: %d passed, %d failed, %d listed unsupported:\n\t%s",
		passed, failed, len(unsupported), strings.Join(unsupported, "\n\t"))
}

// unsupportedCase says why a case is outside the engine: an op missing
// from nn.Supported.
func unsupportedCase(t *testing.T, dir string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := onnx.ReadModel(b)
	if err != nil {
		t.Fatalf("read model: %v", err)
	}
	var missing []string
	for _, n := range env.Graph.Nodes {
		if !slices.Contains(nn.Supported(), n.OpType) && !slices.Contains(missing, n.OpType) {
			missing = append(missing, n.OpType)
		}
	}
	if len(missing) > 0 {
		return "op " + strings.Join(missing, ", ") + " not in the supported list", true
	}
	return "", false
}

func runCase(t *testing.T, dir string) {
	m, err := Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		var unsup *nn.UnsupportedError
		if errors.As(err, &unsup) {
			t.Fatalf("supported op refused: %v", err)
		}
		t.Fatalf("load: %v", err)
	}
	sets, err := readDataSets(dir, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) == 0 {
		t.Fatal("no test_data_set_*")
	}
	for _, ds := range sets {
		got, err := m.Run(ds.inputs)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(ds.dir), err)
		}
		for name, want := range ds.wants {
			if err := closeTo(got[name], want, conformanceRtol, conformanceAtol); err != nil {
				t.Errorf("%s: output %q: %v", filepath.Base(ds.dir), name, err)
			}
		}
	}
}
