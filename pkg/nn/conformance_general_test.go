package nn

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// TestConformanceGeneral runs the ONNX backend test cases of the general
// kernels: inputs and expected outputs computed by the ONNX reference
// implementation, independent of this code.
func TestConformanceGeneral(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(conformanceDir, "test_*"))
	if err != nil || len(dirs) == 0 {
		t.Skipf("no conformance cases in %s", conformanceDir)
	}
	prefixes := []string{"add", "sub", "mul", "div", "relu", "leakyrelu", "sigmoid", "tanh", "gemm", "matmul",
		"dropout", "reshape", "transpose", "squeeze", "unsqueeze", "flatten", "slice", "gather", "concat",
		"shape", "constant", "identity", "expand", "cast"}
	// Cases the test loader (onnx-go) cannot decode: bool and empty tensors,
	// and a Constant node it wires to an input. The unit tests cover the
	// same behaviour (Dropout mask, allowzero, empty Shape and Slice).
	loaderCannot := []string{"constant", "dropout_default_mask", "dropout_default_mask_ratio",
		"reshape_allowzero_reordered", "shape_start_greater_than_end", "slice_start_out_of_bounds"}
	ran := 0
	for _, dir := range dirs {
		name := strings.TrimPrefix(filepath.Base(dir), "test_")
		op, _, _ := strings.Cut(name, "_")
		if !slices.Contains(prefixes, op) {
			continue
		}
		if slices.Contains(loaderCannot, name) {
			t.Run(name, func(t *testing.T) { t.Skip("onnx-go cannot decode this case") })
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err != nil {
			continue
		}
		ran++
		t.Run(name, func(t *testing.T) { runCase(t, dir, 1e-5, 1e-6) })
	}
	if ran == 0 {
		t.Fatal("no case of a general kernel found")
	}
}

// TestConformancePyTorchConverted runs the old PyTorch exports (opset 6)
// of the general kernels; test_Linear's Gemm carries the legacy broadcast
// attribute, so it is built at the opset the file imports.
func TestConformancePyTorchConverted(t *testing.T) {
	dir := filepath.Join(conformanceDir, "pytorch-converted")
	for _, c := range []string{"test_LeakyReLU", "test_LeakyReLU_with_negval", "test_ReLU", "test_Sigmoid", "test_Tanh"} {
		t.Run(c, func(t *testing.T) { runCase(t, filepath.Join(dir, c), 1e-5, 1e-6) })
	}
	t.Run("test_Linear", func(t *testing.T) {
		nodes, inits, _, _ := readModel(t, filepath.Join(dir, "test_Linear", "model.onnx"))
		data := filepath.Join(dir, "test_Linear", "test_data_set_0")
		in := []*tensor.Dense{readPB(t, filepath.Join(data, "input_0.pb")), inits[nodes[0].inputs[1]], inits[nodes[0].inputs[2]]}
		out := run1(t, nodes[0].op, 6, nodes[0].attrs, in...)
		compareTensors(t, "test_Linear", out[0], readPB(t, filepath.Join(data, "output_0.pb")), 1e-5, 1e-6)
	})
}
