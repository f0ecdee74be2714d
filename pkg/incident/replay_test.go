package incident

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"portwatch/internal/eval/quality"
	"portwatch/internal/eval/scenario"
	"portwatch/pkg/detector"
	"portwatch/pkg/store"
)

// replay trains the detector on tl's training days and scores its test
// rounds the way cron does, returning one verdict per test round.
func replay(t *testing.T, tl *scenario.Timeline) []detector.Scored {
	t.Helper()
	r := detector.NewReplay(detector.DefaultConfig(""), slog.New(slog.DiscardHandler))
	if err := r.Train(tl.Rounds[:tl.Train]); err != nil {
		t.Fatal(err)
	}
	rs, err := r.Score(tl.Rounds[tl.Train:])
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestScenarioIncidents replays a labelled scenario (every kind of event,
// and a service restarted with new pids) and checks that each event opens
// one incident, two at most, and that few open outside events.
func TestScenarioIncidents(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model on two days of rounds")
	}
	tl, err := scenario.Generate(scenario.Config{Seed: 3, TrainDays: 2, TestDays: 1, EventsPerKind: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Restart every named service halfway through the test rounds: new pids, same processes.
	half := tl.Train + (len(tl.Rounds)-tl.Train)/2
	for i := half; i < len(tl.Rounds); i++ {
		for j := range tl.Rounds[i].Sockets {
			if s := &tl.Rounds[i].Sockets[j]; s.PID != 0 {
				s.PID += 100000
			}
		}
	}
	rs := replay(t, tl)
	tr, err := NewTracker(nil, nil, DefaultCloseAfter, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rs {
		tr.Observe(s)
	}
	// An incident belongs to the event whose rounds (with the grace after
	// it) hold its first round; test round i has id tl.Rounds[tl.Train+i].ID.
	perEvent := make([]int, len(tl.Events))
	keys := make([][]string, len(tl.Events))
	var stray []store.Incident
	for _, in := range tr.Incidents() {
		found := false
		for e, ev := range tl.Events {
			if in.FirstRound >= tl.Rounds[ev.Start].ID && in.FirstRound < tl.Rounds[min(ev.End+quality.Grace, len(tl.Rounds)-1)].ID {
				perEvent[e]++
				keys[e] = append(keys[e], fmt.Sprintf("%s %s %d..%d", in.Kind, in.Key, in.FirstRound, in.LastRound))
				found = true
				break
			}
		}
		if !found {
			stray = append(stray, in)
		}
	}
	byCount := map[int]int{}
	for e, n := range perEvent {
		byCount[n]++
		if n > 2 {
			t.Errorf("event %d (%s, %s): %d incidents, want 1 or 2", e, tl.Events[e].Kind, tl.Events[e].Detail, n)
		}
		t.Logf("event %-12s %-60s rounds %d..%d incidents %d: %s", tl.Events[e].Kind, tl.Events[e].Detail,
			tl.Rounds[tl.Events[e].Start].ID, tl.Rounds[tl.Events[e].End-1].ID, n, strings.Join(keys[e], "; "))
	}
	days := float64(len(tl.Rounds)-tl.Train) / 1440
	t.Logf("events %d: with 0 incidents %d, 1 %d, 2 %d, more %d; stray incidents %d (%.1f a day)",
		len(tl.Events), byCount[0], byCount[1], byCount[2], len(tl.Events)-byCount[0]-byCount[1]-byCount[2], len(stray), float64(len(stray))/days)
	for _, in := range stray {
		t.Logf("stray: %s %s rounds %d..%d (%d)", in.Kind, in.Key, in.FirstRound, in.LastRound, in.Rounds)
	}
	var anomalous int
	for _, s := range rs {
		if s.Anomalous {
			anomalous++
		}
	}
	t.Logf("anomalous rounds %d, incidents %d", anomalous, len(tr.Incidents()))
	if len(tr.Incidents()) >= anomalous {
		t.Errorf("incidents %d, anomalous rounds %d: want rounds grouped", len(tr.Incidents()), anomalous)
	}

	// Accepting every cause seen: the same rounds again open nothing.
	var rules []Rule
	for _, s := range rs {
		for _, c := range Causes(s) {
			rules = append(rules, RuleOf(c.Key))
		}
	}
	again, err := NewTracker(nil, rules, DefaultCloseAfter, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rs {
		again.Observe(s)
	}
	if n := len(again.Incidents()); n != 0 {
		t.Errorf("after accepting every cause: %d incidents, want 0", n)
	}
}
