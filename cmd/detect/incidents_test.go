package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"portwatch/pkg/command"
	"portwatch/pkg/detector/detectortest"
	"portwatch/pkg/store/storetest"
)

// An injected listener opens one incident, notified once; after detect
// accept its rounds are no anomalies, open nothing and are refit on.
func TestIncidentLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	h := detectortest.New(t, 200, 150, 160, 200)
	dir := t.TempDir()
	events, prom := filepath.Join(dir, "events.jsonl"), filepath.Join(dir, "portwatch.prom")
	cron := []string{"-d", h.Path, "--notify", "cat >> " + events, "--metrics", prom}
	mustRun := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := run(t, args...)
		if code != command.ExitOK {
			t.Fatalf("detect %v: exit %d, stderr %q", args, code, stderr)
		}
		return stdout
	}
	mustRun("-d", h.Path) // the first training
	h.Release(t, 170)
	out := mustRun(cron...)
	if !strings.Contains(out, "new_listener") || !strings.Contains(out, "port 4444 process=nc") {
		t.Errorf("cron run table: got %q, want the new_listener incident", out)
	}
	lines := readLines(t, events)
	if len(lines) != 1 || !strings.Contains(lines[0], `"event":"opened"`) || !strings.Contains(lines[0], `"kind":"new_listener"`) {
		t.Fatalf("notifications: got %q, want one opened new_listener", lines)
	}
	f, err := os.Open(prom)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	f.Close()
	if err != nil {
		t.Fatalf("parse %s: %v", prom, err)
	}
	if got := fams["portwatch_incident_events"].GetMetric()[0].GetGauge().GetValue(); got != 1 {
		t.Errorf("portwatch_incident_events = %g, want 1", got)
	}
	if m := fams["portwatch_open_incidents"].GetMetric(); len(m) != 1 || m[0].GetGauge().GetValue() != 1 || m[0].GetLabel()[0].GetValue() != "new_listener" {
		t.Errorf("portwatch_open_incidents = %v, want new_listener 1", m)
	}
	for _, name := range []string{"portwatch_last_round_timestamp_seconds", "portwatch_rounds_scored", "portwatch_last_score", "portwatch_model_timestamp_seconds", "portwatch_learning_ratio", "portwatch_notify_failures"} {
		if fams[name] == nil {
			t.Errorf("metrics lack %s", name)
		}
	}

	var in map[string]any
	if err := json.Unmarshal([]byte(mustRun("incidents", "-d", h.Path, "--open", "--json")), &in); err != nil || in["state"] != "open" {
		t.Fatalf("incidents --open --json: %v %v", in, err)
	}
	id := int64(in["id"].(float64))
	if out := mustRun("accept", "-d", h.Path, "--note", "the test's listener", "1"); !strings.Contains(out, "4444/tcp") {
		t.Errorf("accept: got %q", out)
	}
	if out := mustRun("accepted", "-d", h.Path); !strings.Contains(out, "the test's listener") || !strings.Contains(out, "process=nc") || !strings.Contains(out, whoami()) {
		t.Errorf("accepted: got %q, want the cause, who and why", out)
	}
	anomalies := storetest.Count(t, h.DB, "anomalies")
	h.Release(t, 190)
	mustRun(cron...)
	if got := storetest.Count(t, h.DB, "anomalies"); got != anomalies {
		t.Errorf("anomalies after accept: got %d, want still %d", got, anomalies)
	}
	if got := storetest.Count(t, h.DB, "incidents"); got != 1 {
		t.Errorf("incidents after accept: got %d, want 1", got)
	}
	if got := len(readLines(t, events)); got != 1 {
		t.Errorf("notifications after accept: got %d, want still 1", got)
	}
	if got := storetest.Int(t, h.DB, "SELECT refit_pending FROM incidents WHERE id = ?", id); got != 0 {
		t.Errorf("refit_pending after the next run: got %d, want 0 (its rounds refit on)", got)
	}
	if out := mustRun("status", "-d", h.Path); !strings.Contains(out, "0 open") || !strings.Contains(out, "1 causes accepted") || !strings.Contains(out, "trained on") {
		t.Errorf("status: got %q", out)
	}
	if out := mustRun("unaccept", "-d", h.Path, "1"); out != "unaccepted 1\n" {
		t.Errorf("unaccept: got %q", out)
	}
	if code, _, stderr := run(t, "unaccept", "-d", h.Path, "1"); code != command.ExitUsage || !strings.Contains(stderr, "no such accepted cause") {
		t.Errorf("unaccept again: exit %d, stderr %q", code, stderr)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}
