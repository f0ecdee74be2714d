package engine

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"portwatch/pkg/nn"
	"portwatch/pkg/onnx"
)

const cases = "../../../shared/onnx-conformance/"

func readCase(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(cases + name + "/model.onnx")
	if err != nil {
		t.Skipf("conformance case not found: %v", err)
	}
	return b
}

// TestDecodeBad: bad files get an error that names the problem, never a
// panic; an unsupported op is a typed error naming op, node and model.
func TestDecodeBad(t *testing.T) {
	good := readCase(t, "test_add")
	// Celu is a real ONNX op the engine does not implement.
	celu, err := onnx.Encode(&onnx.Spec{
		IRVersion: 8, Opset: 17,
		Nodes:   []onnx.NodeSpec{{Name: "c", OpType: "Celu", Inputs: []string{"x"}, Outputs: []string{"y"}}},
		Inputs:  []onnx.ValueInfo{{Name: "x", ElemType: onnx.TypeFloat}},
		Outputs: []onnx.ValueInfo{{Name: "y", ElemType: onnx.TypeFloat}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tensorFile, err := os.ReadFile(cases + "test_add/test_data_set_0/input_0.pb")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		b     []byte
		want  string
		unsup bool
	}{
		{"empty", nil, "not an ONNX model", false},
		{"text", []byte("hello, I am not a model\n"), "not an ONNX model", false},
		{"truncated", good[:len(good)-9], "decode model", false},
		{"tensor file", tensorFile, "not an ONNX model", false},
		{"unsupported op", celu, `Celu`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.b, "m.onnx")
			if err == nil {
				t.Fatal("got no error")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "m.onnx") {
				t.Errorf("got %q, want it to name m.onnx and contain %q", err, tt.want)
			}
			var unsup *nn.UnsupportedError
			if got := errors.As(err, &unsup); got != tt.unsup {
				t.Errorf("errors.As(*nn.UnsupportedError): got %v, want %v", got, tt.unsup)
			}
		})
	}
}

func TestSaveRoundTrip(t *testing.T) {
	b, err := os.ReadFile("../../../shared/onnx-models/burn_lstm/model.onnx")
	if err != nil {
		t.Skipf("model not found: %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "m.onnx")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// Unchanged, a save writes the same bytes.
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b) {
		t.Errorf("save without changes: %d bytes differ from the %d-byte original", len(got), len(b))
	}
	// Changed weights and metadata survive a reload; the old file is .prev.
	var name string
	for n := range m.Params() {
		name = n
		break
	}
	w := m.Params()[name].Float32s()
	w[0] += 0.5
	m.SetMetadata("portwatch.rounds_trained", "42")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	prev, err := os.ReadFile(path + ".prev")
	if err != nil || !bytes.Equal(prev, b) {
		t.Errorf(".prev: got %d bytes (err %v), want the previous file", len(prev), err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Errorf("mode: got %v, want 0600", mode)
	}
	m2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m2.Params()[name].Float32s()[0], w[0]; got != want {
		t.Errorf("%s[0]: got %v, want %v", name, got, want)
	}
	if got := m2.Metadata()["portwatch.rounds_trained"]; got != "42" {
		t.Errorf("metadata: got %q, want 42", got)
	}
	if len(m2.nodes) != len(m.nodes) || m2.Opset() != m.Opset() {
		t.Errorf("graph changed: got %d nodes opset %d, want %d, %d", len(m2.nodes), m2.Opset(), len(m.nodes), m.Opset())
	}
	matches, _ := filepath.Glob(filepath.Join(dir, ".m.onnx.tmp*"))
	if len(matches) > 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

// FuzzDecode: whatever the bytes, Decode returns a model or an error; a
// model it returns encodes back to a file it decodes again.
func FuzzDecode(f *testing.F) {
	f.Add(readCase(f, "test_add"))
	// crafted inputs of the robustness sweep, kept small: nesting just past
	// the bound both ways, and a tensor claiming far more elements than its
	// bytes hold
	f.Add(deepModel(onnx.MaxDepth, false))
	f.Add(deepModel(onnx.MaxDepth/3+1, true))
	f.Add(oversizedModel())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b, "fuzz.onnx")
		if err != nil {
			return
		}
		out, err := m.Encode()
		if err != nil {
			t.Fatalf("encode a decoded model: %v", err)
		}
		if !bytes.Equal(out, b) {
			if _, err := onnx.ReadModel(out); err != nil {
				t.Fatalf("re-read: %v", err)
			}
		}
	})
}

// TestConstantValues: Constant tensors onnx-go cannot decode itself (empty,
// bool) reach the kernel intact.
func TestConstantValues(t *testing.T) {
	tests := []struct {
		name  string
		value *tensor.Dense
		elem  int32
	}{
		{"empty int64", nn.NewI64([]int{0}, []int64{}), onnx.TypeInt64},
		{"bool", tensor.New(tensor.WithShape(2), tensor.WithBacking([]bool{true, false})), onnx.TypeBool},
		{"float", nn.NewF32([]int{2}, []float32{1.5, -2}), onnx.TypeFloat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := onnx.Encode(&onnx.Spec{
				IRVersion: 8, Opset: 17,
				Nodes: []onnx.NodeSpec{{Name: "c", OpType: "Constant", Outputs: []string{"y"},
					Attrs: []onnx.Attr{{Name: "value", Value: tt.value}}}},
				Outputs: []onnx.ValueInfo{{Name: "y", ElemType: tt.elem}},
			})
			if err != nil {
				t.Fatal(err)
			}
			m, err := Decode(b, "const.onnx")
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Run(nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := closeTo(got["y"], tt.value, 0, 0); err != nil {
				t.Error(err)
			}
		})
	}
}
