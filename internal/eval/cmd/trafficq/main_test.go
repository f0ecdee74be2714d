package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"portwatch/internal/eval/pcaptl"
	"portwatch/internal/eval/pcaptl/pcaptltest"
	"portwatch/internal/eval/quality"
	pwdetector "portwatch/pkg/detector"
)

// TestReport runs the harness on the small generated inputs: the SYN scans
// are Zeek's, every event is in the table, and the timeline's files and
// timings are named.
func TestReport(t *testing.T) {
	var out bytes.Buffer
	o := options{cfg: pcaptl.Config{Seed: 1, TrainMinutes: 30, TestMinutes: 120, EventsPerKind: 2}, out: t.TempDir(), list: true}
	if err := report(context.Background(), pcaptltest.Inputs(t), o, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, re := range []string{
		`(?m)^\s+scan\s+zeek-scan\s+2\s+2\s`,
		`(?m)^\s+dns_tunnel\s+zeek-scan\s+2\s+0\s`,
		`(?m)^\s+all\s+ratio\s+4\s`,
		`database\s+\S+portwatch.db, [0-9.]+ MiB: 150 rounds`,
		`generate\+ingest`,
		`seed 1: 30 training rounds, 120 test rounds, 4 events`,
	} {
		if !regexp.MustCompile(re).MatchString(got) {
			t.Errorf("report lacks %q:\n%s", re, got)
		}
	}
	// Run again into the same directory: the old database goes first.
	out.Reset()
	if err := report(context.Background(), pcaptltest.Inputs(t), o, &out); err != nil || !strings.Contains(out.String(), "150 rounds") {
		t.Errorf("second run: %v\n%s", err, out.String())
	}
}

func TestRunRefuses(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-nope"}, "not defined"},
		{"argument", []string{"extra"}, "unexpected arguments"},
		{"no captures", []string{"-pcaps", t.TempDir(), "-out", t.TempDir()}, "no such file"},
		{"no test hours", []string{"-test-hours", "0", "-pcaps", t.TempDir()}, "at least one of each"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), tt.args, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// A flagged round is a false alarm only outside its event and the grace
// rounds after it; the listing tells what fired.
func TestPrintFalseAlarms(t *testing.T) {
	tl := &pcaptl.Timeline{Train: 100, Events: []pcaptl.Event{{Minute: 105, Rounds: 2}}}
	scored := make([]pwdetector.Scored, 40)
	flag := func(i int, text string) {
		scored[i].Anomalous, scored[i].Score = true, 2
		scored[i].Traffic = []pwdetector.Finding{{Stat: "unreachable", Value: 40, Limit: 20, Text: text}}
	}
	flag(2, "before")                 // minute 102: a false alarm
	flag(5, "event")                  // minute 105: the event
	flag(6+quality.Grace, "in grace") // minute 116: the event's last grace round
	flag(7+quality.Grace, "after")    // minute 117: a false alarm
	scored[8+quality.Grace].Ports = []pwdetector.Port{
		{Port: 4444, Protocol: "tcp", State: "listen", Channel: "tcp_listen", Change: "new", Error: 13.8, Over: true},
		{Port: 123, Protocol: "udp", State: "peers", Channel: "peers_in", Change: "new", Error: 5}, // a bystander
	}
	scored[8+quality.Grace].Anomalous, scored[8+quality.Grace].Score = true, 1.5
	var out bytes.Buffer
	printFalseAlarms(&out, tl, scored)
	got := out.String()
	for _, want := range []string{"minute 102 score 2: [unreachable 40 > 20: before]", "minute 117 score 2: [unreachable 40 > 20: after]",
		"minute 118 score 1.5: 4444/tcp listen tcp_listen new 13.8\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("listing lacks %q:\n%s", want, got)
		}
	}
	for _, not := range []string{"event", "in grace"} {
		if strings.Contains(got, not+"]") {
			t.Errorf("listing names %q, which is no false alarm:\n%s", not, got)
		}
	}
}
