package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"portwatch/pkg/command"
	"portwatch/pkg/detector"
	"portwatch/pkg/modelfile"
	"portwatch/pkg/onnx"
	"portwatch/pkg/portae"
)

func runApp(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	app := newApp()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	code := command.Run(app, append([]string{"detect"}, args...), &errOut)
	return out.String(), errOut.String(), code
}

func TestModelNewInfo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portae.onnx")
	out, stderr, code := runApp(t, "model", "new", "--out", path, "--window", "4", "--channels", "tcp_listen,udp_bound")
	if code != 0 {
		t.Fatalf("model new: exit %d: %s", code, stderr)
	}
	if want := "portae-v2, window 4"; !strings.Contains(out, want) {
		t.Errorf("model new: want %q in %q", want, out)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Errorf("mode: got %v, want 0600", mode)
	}
	out, stderr, code = runApp(t, "model", "info", path)
	if code != 0 {
		t.Fatalf("model info: exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"input:      occupancy float32[N,4,2,65536]",
		"input:      pattern int64[N,2,65536]",
		"portwatch.version = portae-v2",
		"output:     reconstruction float32[N,2,65536]",
		"opset:      17",
		"LSTM×1",
		"portwatch.channels = tcp_listen,udp_bound",
		"portwatch.window = 4",
		"portwatch.threshold absent",
		"parameters: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("model info: want %q in\n%s", want, out)
		}
	}
	if _, _, code := runApp(t, "model", "new", "--out", path); code != command.ExitUsage {
		t.Errorf("model new over an existing file: exit %d, want %d", code, command.ExitUsage)
	}
}

func TestModelRun(t *testing.T) {
	dir := "../../../shared/onnx-conformance/test_gemm_all_attributes"
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("conformance case not found: %v", err)
	}
	set := filepath.Join(dir, "test_data_set_0")
	outDir := t.TempDir()
	_, stderr, code := runApp(t, "model", "run", filepath.Join(dir, "model.onnx"),
		"--input", "a="+filepath.Join(set, "input_0.pb"),
		"--input", "b="+filepath.Join(set, "input_1.pb"),
		"--input", "c="+filepath.Join(set, "input_2.pb"),
		"--output-dir", outDir)
	if code != 0 {
		t.Fatalf("model run: exit %d: %s", code, stderr)
	}
	got, err := os.ReadFile(filepath.Join(outDir, "y.pb"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(set, "output_0.pb"))
	if err != nil {
		t.Fatal(err)
	}
	_, g, err := onnx.DecodeTensor(got)
	if err != nil {
		t.Fatal(err)
	}
	_, w, err := onnx.DecodeTensor(want)
	if err != nil {
		t.Fatal(err)
	}
	gv, wv := g.Float32s(), w.Float32s()
	if len(gv) != len(wv) {
		t.Fatalf("got %d values, want %d", len(gv), len(wv))
	}
	for i := range wv {
		if d := gv[i] - wv[i]; d > 1e-4 || d < -1e-4 {
			t.Errorf("[%d]: got %g, want %g", i, gv[i], wv[i])
		}
	}
}

// The command `make model` runs (and models/README.md documents) writes a
// file detect loads, with the channels and window a cron detect would
// build without one.
func TestMakeModel(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, line := range strings.Split(string(mk), "\n") {
		if f := strings.Fields(line); len(f) > 3 && f[0] == "./bin/detect" && f[1] == "model" && f[2] == "new" {
			args = f[1:]
		}
	}
	if args == nil {
		t.Fatal("Makefile: no ./bin/detect model new recipe")
	}
	readme, err := os.ReadFile("../../models/README.md")
	if err != nil {
		t.Fatal(err)
	}
	if cmd := "detect " + strings.Join(args, " "); !strings.Contains(string(readme), cmd) {
		t.Errorf("models/README.md does not document %q", cmd)
	}
	i := slices.Index(args, "--out")
	if i < 0 || i+1 == len(args) {
		t.Fatalf("make model: %v has no --out FILE", args)
	}
	path := filepath.Join(t.TempDir(), filepath.Base(args[i+1]))
	args = slices.Concat(args[:i+1], []string{path}, args[i+2:])
	if _, stderr, code := runApp(t, args...); code != 0 {
		t.Fatalf("detect %v: exit %d: %s", args, code, stderr)
	}
	f, err := modelfile.Load(path, detector.DefaultConfig(path).Batch)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Layout.Channels(), modelfile.DefaultChannels(); !slices.Equal(got, want) || f.Window != portae.DefaultWindow {
		t.Errorf("made model: got channels %v, window %d, want %v, %d", got, f.Window, want, portae.DefaultWindow)
	}
}

func TestFlagsFirst(t *testing.T) {
	tests := []struct{ in, want string }{
		{"detect model run m.onnx --input a=x.pb -i b=y.pb --output-dir out", "detect model run --input a=x.pb -i b=y.pb --output-dir out m.onnx"},
		{"detect model info m.onnx", "detect model info m.onnx"},
		{"detect model new --out m.onnx --force", "detect model new --out m.onnx --force"},
		{"detect -d db --since 24h", "detect -d db --since 24h"},
		{"detect -d db extra --json --since 24h", "detect -d db --json --since 24h extra"},
		{"detect model info -h", "detect model info -h"},
		{"detect model run --output-dir=out m.onnx -- -odd.onnx", "detect model run --output-dir=out -- m.onnx -odd.onnx"},
	}
	for _, tt := range tests {
		if got := strings.Join(command.FlagsFirst(newApp(), strings.Fields(tt.in)), " "); got != tt.want {
			t.Errorf("FlagsFirst(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
