package quality

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"portwatch/internal/eval/scenario"
	"portwatch/pkg/store"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestEvaluate(t *testing.T) {
	events := []scenario.Event{
		{Kind: scenario.NewListener, Start: 100, End: 110},
		{Kind: scenario.NewListener, Start: 500, End: 505},
		{Kind: scenario.Vanished, Start: 1000, End: 1010},
	}
	// Flagged round: score. 50, 51, 2000: false alarms; 112: within the
	// grace after an event.
	flags := map[int]float64{50: 3, 51: 2, 103: 4, 112: 9, 1000: 1.5, 1001: 1, 2000: 5}
	verdicts := []Verdict{{Round: 700, Score: 0.5}} // judged normal
	for r, score := range flags {
		verdicts = append(verdicts, Verdict{Round: r, Anomalous: true, Score: score, Why: fmt.Sprint("round ", r)})
	}
	res, err := Evaluate(events, nil, 3000, verdicts)
	if err != nil {
		t.Fatal(err)
	}
	normalRounds := 3000 - (10 + Grace) - (5 + Grace) - (10 + Grace)
	if got, want := res.FalseAlarms, 3; got != want {
		t.Errorf("false alarms: got %d, want %d", got, want)
	}
	if got, want := res.Flagged, []Verdict{
		{Round: 50, Anomalous: true, Score: 3, Why: "round 50"},
		{Round: 51, Anomalous: true, Score: 2, Why: "round 51"},
		{Round: 2000, Anomalous: true, Score: 5, Why: "round 2000"},
	}; !slices.Equal(got, want) {
		t.Errorf("flagged normal rounds: got %+v, want %+v", got, want)
	}
	if got, want := res.NormalDays, float64(normalRounds)/1440; !near(got, want) {
		t.Errorf("normal days: got %v, want %v", got, want)
	}
	perDay := 3 / (float64(normalRounds) / 1440)
	// 2.05 normal days allow 2 false alarms: the threshold is the third
	// highest normal score, 2, which 103 passes and 1000 and 1001 do not.
	want := []Stats{
		{Kind: "new_listener", Events: 2, Detected: 1, Precision: 0.25, Recall: 0.5, F1: 1.0 / 3, FalseAlarmsPerDay: perDay, TTDMean: 3, TTDMax: 3, RecallAt1: 0.5},
		{Kind: "listener_vanished", Events: 1, Detected: 1, Precision: 0.25, Recall: 1, F1: 0.4, FalseAlarmsPerDay: perDay, TTDMean: 0, TTDMax: 0, RecallAt1: 0},
		{Kind: "all", Events: 3, Detected: 2, Precision: 0.4, Recall: 2.0 / 3, F1: 0.5, FalseAlarmsPerDay: perDay, TTDMean: 1.5, TTDMax: 3, RecallAt1: 1.0 / 3},
	}
	if res.MaxNormal != 5 || !math.IsInf(res.MinEvent, -1) {
		t.Errorf("margin: got highest normal %v and lowest event %v, want 5 and -Inf", res.MaxNormal, res.MinEvent)
	}
	if res.AtOneADay != 2 {
		t.Errorf("score for 1 false alarm a day: got %v, want 2", res.AtOneADay)
	}
	wantEvents := []Outcome{
		{Event: events[0], Detected: true, TTD: 3, MaxScore: 4},
		{Event: events[1], MaxScore: math.Inf(-1)}, // no verdicts at all
		{Event: events[2], Detected: true, TTD: 0, MaxScore: 1.5},
	}
	if !slices.Equal(res.Events, wantEvents) {
		t.Errorf("event outcomes: got %+v, want %+v", res.Events, wantEvents)
	}
	if len(res.Kinds) != len(want) {
		t.Fatalf("got %d kind rows, want %d: %+v", len(res.Kinds), len(want), res.Kinds)
	}
	for i, w := range want {
		g := res.Kinds[i]
		if g.Kind != w.Kind || g.Events != w.Events || g.Detected != w.Detected || !near(g.Precision, w.Precision) ||
			!near(g.Recall, w.Recall) || !near(g.F1, w.F1) || !near(g.FalseAlarmsPerDay, w.FalseAlarmsPerDay) ||
			!near(g.TTDMean, w.TTDMean) || !near(g.TTDMax, w.TTDMax) || !near(g.RecallAt1, w.RecallAt1) {
			t.Errorf("row %d: got %+v, want %+v", i, g, w)
		}
	}
}

// TestEvaluateOtherKinds: kinds outside scenario.Kinds (a capture
// timeline's) get rows too, after the scenario's, by name.
func TestEvaluateOtherKinds(t *testing.T) {
	events := []scenario.Event{
		{Kind: "scan", Start: 10, End: 11},
		{Kind: scenario.Vanished, Start: 40, End: 42},
		{Kind: "flood", Start: 70, End: 71},
		{Kind: "scan", Start: 100, End: 102},
	}
	verdicts := []Verdict{{Round: 10, Anomalous: true}, {Round: 101, Anomalous: true}}
	res, err := Evaluate(events, nil, 200, verdicts)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range res.Kinds {
		got = append(got, fmt.Sprintf("%s %d/%d", k.Kind, k.Detected, k.Events))
	}
	want := []string{"listener_vanished 0/1", "flood 0/1", "scan 2/2", "all 2/4"}
	if !slices.Equal(got, want) {
		t.Errorf("kind rows: got %v, want %v", got, want)
	}
}

func TestEvaluateRefuses(t *testing.T) {
	tests := []struct {
		name     string
		events   []scenario.Event
		verdicts []Verdict
		want     string
	}{
		{"verdict past the end", nil, []Verdict{{Round: 10}}, "verdict for round 10 of 10"},
		{"negative verdict", nil, []Verdict{{Round: -1}}, "verdict for round -1"},
		{"event past the end", []scenario.Event{{Kind: scenario.Rebound, Start: 8, End: 12}}, nil, "outside the 10 scored"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Evaluate(tt.events, nil, 10, tt.verdicts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// fake is a Detector built from funcs.
type fake struct {
	train func([]store.Round) error
	score func([]store.Round) ([]Verdict, error)
}

func (f fake) Train(r []store.Round) error              { return f.train(r) }
func (f fake) Score(r []store.Round) ([]Verdict, error) { return f.score(r) }

func TestRunShiftsToTestRounds(t *testing.T) {
	tl := &scenario.Timeline{Train: 10, Events: []scenario.Event{{Kind: scenario.OddHours, Start: 12, End: 15}}}
	for i := range 40 {
		tl.Rounds = append(tl.Rounds, store.Round{ID: int64(i + 1), Start: time.Unix(int64(60*i), 0)})
	}
	var trained, scored []int64
	d := fake{
		train: func(r []store.Round) error { trained = append(trained, r[0].ID, r[len(r)-1].ID); return nil },
		score: func(r []store.Round) ([]Verdict, error) {
			scored = append(scored, r[0].ID, r[len(r)-1].ID)
			return []Verdict{{Round: 3, Anomalous: true}}, nil // round id 14, inside the event
		},
	}
	res, err := Run(tl, "fake", d)
	if err != nil {
		t.Fatal(err)
	}
	if trained[0] != 1 || trained[1] != 10 || scored[0] != 11 || scored[1] != 40 {
		t.Errorf("got training rounds %v and scored rounds %v, want ids 1..10 and 11..40", trained, scored)
	}
	all := res.Kinds[len(res.Kinds)-1]
	if all.Detected != 1 || all.TTDMean != 1 || res.FalseAlarms != 0 || res.Detector != "fake" {
		t.Errorf("got %+v, %d false alarms, detector %q; want 1 detected after 1 round, none false, detector fake", all, res.FalseAlarms, res.Detector)
	}
}

func TestPrint(t *testing.T) {
	res := []Result{
		{Detector: "a", Kinds: []Stats{{Kind: "new_listener", Events: 20, Detected: 19, Precision: 0.95, Recall: 0.95, F1: 0.95, FalseAlarmsPerDay: 0.25, TTDMean: 1.5, TTDMax: 4, RecallAt1: 1}}},
		{Detector: "b", Kinds: []Stats{{Kind: "new_listener", Events: 20, Detected: 3, Precision: 0.5, Recall: 0.15, F1: 0.23, FalseAlarmsPerDay: 12, TTDMean: 0, TTDMax: 0}}},
	}
	var buf bytes.Buffer
	if err := Print(&buf, res); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	if len(lines) < 3 {
		t.Fatalf("got %q, want a header and two rows", buf.String())
	}
	wantRow := []string{"new_listener", "a", "20", "19", "0.95", "0.95", "0.95", "0.25", "1.5", "4", "1.00"}
	if got := strings.Fields(lines[1]); strings.Join(got, " ") != strings.Join(wantRow, " ") {
		t.Errorf("first row: got %q, want fields %q", lines[1], wantRow)
	}
	if got := strings.Fields(lines[2]); len(got) < 2 || got[1] != "b" || got[7] != "12.00" {
		t.Errorf("second row: got %q, want detector b with 12.00 false alarms a day", lines[2])
	}
}

func TestPrintEvents(t *testing.T) {
	r := Result{Detector: "a", AtOneADay: 2.5, Events: []Outcome{
		{Event: scenario.Event{Kind: scenario.NewListener, Start: 7, End: 12, Port: 4444, Detail: "tcp 0.0.0.0 port 4444 listen by nc"}, Detected: true, TTD: 1, MaxScore: 3},
		{Event: scenario.Event{Kind: scenario.Vanished, Start: 40, End: 45, Port: 22, Detail: "sshd gone"}, MaxScore: 0.5},
	}, Flagged: []Verdict{{Round: 99, Anomalous: true, Score: 1.5, Why: "batch-job opened 8"}}}
	var buf bytes.Buffer
	if err := PrintEvents(&buf, r); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := [][]string{
		{"a:", "events", "(scores", "above", "2.5"},
		{"kind", "start", "rounds", "port", "detected", "TTD", "max", "score", "detail"},
		{"new_listener", "7", "5", "4444", "true", "1", "3", "tcp", "0.0.0.0", "port", "4444", "listen", "by", "nc"},
		{"listener_vanished", "40", "5", "22", "false", "-", "0.5", "sshd", "gone"},
		{"false", "alarm", "round", "score", "why"},
		{"false", "alarm", "99", "1.5", "batch-job", "opened", "8"},
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		got := strings.Fields(lines[i])
		if len(got) < len(w) || !slices.Equal(got[:len(w)], w) {
			t.Errorf("line %d: got %q, want it to start with %q", i, lines[i], w)
		}
	}
}

func TestEvaluatePhenomena(t *testing.T) {
	const n = 1440
	active := make([]scenario.Phenomena, n)
	for i := 0; i < n; i += 60 {
		active[i] = scenario.Phenomena(scenario.HourlyBurst)
		active[i+30] = scenario.Phenomena(scenario.PeriodicListener | scenario.QuarterHourly)
	}
	events := []scenario.Event{{Kind: scenario.BurstOffPhase, Start: 600, End: 602}}
	// Hourly bursts at 0 and 60 flagged, and the one at 600 inside the event
	// (neither normal nor a false alarm).
	verdicts := []Verdict{{Round: 0, Anomalous: true, Score: 2}, {Round: 60, Anomalous: true, Score: 3},
		{Round: 600, Anomalous: true, Score: 4}, {Round: 90, Score: 0.5}}
	res, err := Evaluate(events, active, n, verdicts)
	if err != nil {
		t.Fatal(err)
	}
	days := float64(n-2-Grace) / 1440
	want := []PhenomenonStats{
		{Phenomenon: scenario.HourlyBurst, Rounds: 23, FalseAlarms: 2, FalseAlarmsPerDay: 2 / days},
		{Phenomenon: scenario.QuarterHourly, Rounds: 24},
		{Phenomenon: scenario.PeriodicListener, Rounds: 24},
		{Phenomenon: scenario.NightlyRestart},
		{Phenomenon: scenario.Weekly},
	}
	if !slices.Equal(res.Phenomena, want) {
		t.Errorf("phenomena: got %+v, want %+v", res.Phenomena, want)
	}
	if res.MaxNormal != 3 || res.MinEvent != 4 {
		t.Errorf("margin: got highest normal %v and lowest event %v, want 3 and 4", res.MaxNormal, res.MinEvent)
	}
	if _, err := Evaluate(events, active[:10], n, verdicts); err == nil {
		t.Error("phenomena for 10 of 1440 rounds: got no error")
	}
}
