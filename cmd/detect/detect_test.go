package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"portwatch/pkg/command"
	"portwatch/pkg/detector/detectortest"
	"portwatch/pkg/store"
)

// run runs detect with args and returns its exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &stdout, &stderr
	code := command.Run(app, append([]string{"detect"}, args...), &stderr)
	return code, stdout.String(), stderr.String()
}

func TestUsage(t *testing.T) {
	h := detectortest.New(t, 10, 10, 0, 0)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no db", nil, "Required flag"},
		{"missing db", []string{"-d", filepath.Join(t.TempDir(), "nope.db")}, "pass the file collect writes"},
		{"since and from", []string{"-d", h.Path, "--since", "1h", "--from", "2026-11-12T00:00:00Z"}, "one or the other"},
		{"bad since", []string{"-d", h.Path, "--since", "yesterday"}, "--since"},
		{"bad from", []string{"-d", h.Path, "--from", "noon"}, "RFC 3339"},
		{"to before from", []string{"-d", h.Path, "--from", "2026-11-12T01:00:00Z", "--to", "2026-11-12T00:00:00Z"}, "not after"},
		{"bad q", []string{"-d", h.Path, "--threshold-q", "2"}, "--threshold-q"},
		{"argument", []string{"-d", h.Path, "extra"}, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, tt.args...)
			if code != command.ExitUsage {
				t.Errorf("exit code: got %d, want %d (stderr %q)", code, command.ExitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr: got %q, want it to contain %q", stderr, tt.want)
			}
		})
	}
}

func TestLearningMessage(t *testing.T) {
	h := detectortest.New(t, 10, 10, 0, 0)
	code, stdout, stderr := run(t, "-d", h.Path)
	if code != command.ExitOK {
		t.Fatalf("exit code: got %d, want 0 (stderr %q)", code, stderr)
	}
	if got, want := stdout, "learning: 10 of 60 rounds\n"; got != want {
		t.Errorf("stdout: got %q, want %q", got, want)
	}
	if _, err := os.Stat(h.Model); !os.IsNotExist(err) {
		t.Errorf("model file: got %v, want none", err)
	}
}

func TestCorruptModel(t *testing.T) {
	h := detectortest.New(t, 70, 70, 0, 0)
	junk := []byte("\x08\x07garbage")
	if err := os.WriteFile(h.Model, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "-d", h.Path)
	if code != command.ExitUsage {
		t.Errorf("exit code: got %d, want %d", code, command.ExitUsage)
	}
	if n := strings.Count(stderr, "\n"); n != 1 || !strings.Contains(stderr, h.Model) || !strings.Contains(stderr, "--reset-model") {
		t.Errorf("stderr: got %q, want one line naming the file and --reset-model", stderr)
	}
	if got, err := os.ReadFile(h.Model); err != nil || !bytes.Equal(got, junk) {
		t.Errorf("model file after the error: changed or gone (%v)", err)
	}
	code, stdout, stderr := run(t, "-d", h.Path, "--reset-model", "--min-rounds", "100")
	if code != command.ExitOK || stdout != "learning: 70 of 100 rounds\n" {
		t.Errorf("--reset-model: got exit %d, stdout %q, stderr %q; want 0 and learning", code, stdout, stderr)
	}
	aside, _ := filepath.Glob(h.Model + ".reset-*")
	if len(aside) != 1 {
		t.Fatalf("set-aside model files: got %v, want one", aside)
	}
	if got, err := os.ReadFile(aside[0]); err != nil || !bytes.Equal(got, junk) {
		t.Errorf("set-aside model: changed (%v)", err)
	}
}

func TestLocked(t *testing.T) {
	h := detectortest.New(t, 10, 10, 0, 0)
	lock, err := store.TryLock(h.Path, "detect")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	if code, _, stderr := run(t, "-d", h.Path); code != command.ExitLocked {
		t.Errorf("exit code: got %d, want %d (stderr %q)", code, command.ExitLocked, stderr)
	}
}

// JSON lines, a range run that changes nothing, and the plot, on a trained model.
func TestJSONRangePlot(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	const trained, total, from = 150, 170, 160
	h := detectortest.New(t, total, trained, from, from+5)
	if code, _, stderr := run(t, "-d", h.Path); code != command.ExitOK {
		t.Fatalf("first run: exit %d, stderr %q", code, stderr)
	}
	h.Release(t, total)
	code, stdout, stderr := run(t, "-d", h.Path, "--json", "--all")
	if code != command.ExitOK {
		t.Fatalf("second run: exit %d, stderr %q", code, stderr)
	}
	var lines, flagged int
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		lines++
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %d %q: %v", lines, sc.Text(), err)
		}
		for _, k := range []string{"round_id", "start_time", "score", "threshold", "anomalous", "ports"} {
			if _, ok := v[k]; !ok {
				t.Errorf("line %d: no %q in %s", lines, k, sc.Text())
			}
		}
		if v["anomalous"] == true {
			flagged++
			p := v["ports"].([]any)[0].(map[string]any)
			for _, k := range []string{"port", "protocol", "state", "error"} {
				if _, ok := p[k]; !ok {
					t.Errorf("line %d: port without %q: %v", lines, k, p)
				}
			}
		}
	}
	if got, want := lines, total-trained; got != want {
		t.Errorf("json lines with --all: got %d, want %d", got, want)
	}
	if flagged == 0 {
		t.Errorf("json lines: no anomalous round, want the listener on 4444 flagged")
	}

	before := h.Counts(t)
	model, _ := os.ReadFile(h.Model)
	png := filepath.Join(t.TempDir(), "scores.png")
	code, stdout, stderr = run(t, "-d", h.Path, "--from", "2026-11-12T00:00:00Z", "--plot", png)
	if code != command.ExitOK {
		t.Fatalf("range run: exit %d, stderr %q", code, stderr)
	}
	// The table shows incidents: the listener's rounds are one.
	if !strings.Contains(stdout, "new_listener  tcp/4 0.0.0.0 port 4444 process=nc") || !strings.Contains(stdout, ", 1 incidents touched") {
		t.Errorf("range table: got %q, want one new_listener incident naming the listener", stdout)
	}
	code, stdout, stderr = run(t, "-d", h.Path, "--from", "2026-11-12T00:00:00Z", "--rounds-view")
	if code != command.ExitOK {
		t.Fatalf("range run --rounds-view: exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stdout, "4444/tcp listen 0.0.0.0 nc") {
		t.Errorf("range table --rounds-view: got %q, want the listener named", stdout)
	}
	if got := h.Counts(t); got != before {
		t.Errorf("batches, scores, anomalies after a range run: got %v, want %v", got, before)
	}
	if after, _ := os.ReadFile(h.Model); !bytes.Equal(after, model) {
		t.Errorf("model file changed by a range run")
	}
	if st, err := os.Stat(png); err != nil || st.Size() < 1000 {
		t.Errorf("plot: %v, want a PNG", err)
	}
}
