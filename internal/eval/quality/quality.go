// Package quality measures how well a detector finds the anomalies of a
// labelled scenario timeline, and prints the comparison table.
//
// A detector under test (Detector) is trained on a timeline's training
// rounds and then scores its test rounds, in one call each. Metrics, per
// anomaly kind and over all:
//
//   - an event is detected when any round inside it is flagged; recall is
//     detected events over events;
//   - a false alarm is a flagged normal round: one anomalies row the owner
//     must look at. Rounds within Grace rounds after an event ends count
//     neither way (a windowed detector still sees the event in its window);
//   - precision is detected events over detected events plus false alarms.
//     False alarms belong to no kind, so every kind's precision counts all
//     of them, as an owner watching for that kind would;
//   - false alarms per day: per 1440 normal rounds (a day of minute rounds);
//   - time to detect: rounds (minutes) from an event's first round to its
//     first flagged one, mean and max over detected events;
//   - recall at 1 false alarm a day: the recall the detector's scores would
//     give with the threshold set, knowing the labels, so that the normal
//     rounds scoring above it are at most one a day. It separates how well
//     scores rank rounds from how well the detector sets its own threshold.
package quality

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"portwatch/internal/eval/scenario"
	"portwatch/pkg/store"
)

// Verdict is a detector's judgement of one scored round.
type Verdict struct {
	Round     int // index into the rounds given to Score
	Anomalous bool
	Score     float64
	Why       string // what fired, for the detectors that say; "" otherwise
}

// Detector is a detector under test.
type Detector interface {
	// Train fits the detector to normal rounds.
	Train(rounds []store.Round) error
	// Score judges rounds, which follow the training rounds directly.
	// Rounds it returns no verdict for count as not flagged.
	Score(rounds []store.Round) ([]Verdict, error)
}

// Grace is how many rounds after an event's end are neither normal nor
// part of the event.
const Grace = 10

// roundsPerDay is a day of minute rounds.
const roundsPerDay = 24 * 60

// Stats are the metrics for one kind of event, or all of them.
type Stats struct {
	Kind              string
	Events, Detected  int
	Precision, Recall float64
	F1                float64
	FalseAlarmsPerDay float64
	TTDMean, TTDMax   float64 // rounds; 0 when nothing was detected
	RecallAt1         float64 // recall at the threshold allowing 1 false alarm a day
}

// Result is one detector's evaluation on one timeline.
type Result struct {
	Detector    string
	Kinds       []Stats   // one per kind present, in scenario.Kinds order and then by name, then "all"
	Events      []Outcome // one per event, in order
	FalseAlarms int       // flagged normal rounds
	// Flagged are the flagged normal rounds' verdicts, in order.
	Flagged    []Verdict
	NormalDays float64
	// AtOneADay is the score a round must exceed for recall at 1 false alarm a day.
	AtOneADay float64
	// MaxNormal is the highest score of a normal round and MinEvent the
	// lowest of the events' highest scores: the margin a threshold has.
	MaxNormal, MinEvent float64
	// Phenomena are the false alarms in rounds running each recurring job,
	// for the timelines that have them.
	Phenomena []PhenomenonStats
	Train     time.Duration
	Score     time.Duration
}

// PhenomenonStats are a detector's false alarms in the normal rounds that
// run one recurring phenomenon.
type PhenomenonStats struct {
	Phenomenon        scenario.Phenomenon
	Rounds            int // normal rounds it runs in
	FalseAlarms       int
	FalseAlarmsPerDay float64 // per day of all normal rounds
}

// Outcome is what a detector made of one event.
type Outcome struct {
	scenario.Event
	Detected bool
	TTD      int     // rounds to the first flag, when detected
	MaxScore float64 // the highest score in the event
}

// Run trains d on tl's training rounds, scores its test rounds and evaluates the verdicts.
func Run(tl *scenario.Timeline, name string, d Detector) (Result, error) {
	test := tl.Rounds[tl.Train:]
	events := make([]scenario.Event, len(tl.Events))
	for i, ev := range tl.Events {
		ev.Start -= tl.Train
		ev.End -= tl.Train
		events[i] = ev
	}
	t0 := time.Now()
	if err := d.Train(tl.Rounds[:tl.Train]); err != nil {
		return Result{}, fmt.Errorf("train %s: %w", name, err)
	}
	t1 := time.Now()
	verdicts, err := d.Score(test)
	if err != nil {
		return Result{}, fmt.Errorf("score with %s: %w", name, err)
	}
	t2 := time.Now()
	var active []scenario.Phenomena
	if tl.Active != nil {
		active = tl.Active[tl.Train:]
	}
	res, err := Evaluate(events, active, len(test), verdicts)
	if err != nil {
		return Result{}, fmt.Errorf("evaluate %s: %w", name, err)
	}
	res.Detector, res.Train, res.Score = name, t1.Sub(t0), t2.Sub(t1)
	return res, nil
}

// Evaluate computes the metrics of verdicts on n scored rounds holding
// events (round indices into the scored rounds) and running the recurring
// phenomena active says (nil: none).
func Evaluate(events []scenario.Event, active []scenario.Phenomena, n int, verdicts []Verdict) (Result, error) {
	if active != nil && len(active) != n {
		return Result{}, fmt.Errorf("phenomena for %d rounds of %d scored", len(active), n)
	}
	flagged := make([]bool, n)
	scores := make([]float64, n)
	for i := range scores {
		scores[i] = math.Inf(-1)
	}
	why := make([]Verdict, n)
	for _, v := range verdicts {
		if v.Round < 0 || v.Round >= n {
			return Result{}, fmt.Errorf("verdict for round %d of %d scored", v.Round, n)
		}
		if v.Anomalous && !why[v.Round].Anomalous {
			why[v.Round] = v
		}
		flagged[v.Round] = flagged[v.Round] || v.Anomalous
		scores[v.Round] = math.Max(scores[v.Round], v.Score)
	}
	normal := make([]bool, n)
	for i := range normal {
		normal[i] = true
	}
	for _, ev := range events {
		if ev.Start < 0 || ev.End > n || ev.Start >= ev.End {
			return Result{}, fmt.Errorf("event %s at rounds [%d, %d) outside the %d scored", ev.Kind, ev.Start, ev.End, n)
		}
		for i := ev.Start; i < min(n, ev.End+Grace); i++ {
			normal[i] = false
		}
	}
	res := Result{MaxNormal: math.Inf(-1), MinEvent: math.Inf(1)}
	normalRounds := 0
	for i := range n {
		if normal[i] {
			normalRounds++
			res.MaxNormal = math.Max(res.MaxNormal, scores[i])
			if flagged[i] {
				res.FalseAlarms++
				res.Flagged = append(res.Flagged, why[i])
			}
		}
	}
	res.NormalDays = float64(normalRounds) / roundsPerDay
	perDay := 0.0
	if normalRounds > 0 {
		perDay = float64(res.FalseAlarms) / res.NormalDays
	}
	if slices.ContainsFunc(active, func(a scenario.Phenomena) bool { return a != 0 }) {
		res.Phenomena = phenomena(active, normal, flagged, res.NormalDays)
	}
	var oracle []bool
	res.AtOneADay, oracle = atOneADay(scores, normal, int(res.NormalDays))
	for _, ev := range events {
		o := Outcome{Event: ev, MaxScore: slices.Max(scores[ev.Start:ev.End])}
		res.MinEvent = math.Min(res.MinEvent, o.MaxScore)
		if i := slices.Index(flagged[ev.Start:ev.End], true); i >= 0 {
			o.Detected, o.TTD = true, i
		}
		res.Events = append(res.Events, o)
	}
	all := tally{kind: "all"}
	for _, k := range kindsOf(events) {
		t := tally{kind: string(k)}
		for _, ev := range events {
			if ev.Kind == k {
				t.add(ev, flagged, oracle)
				all.add(ev, flagged, oracle)
			}
		}
		if t.events > 0 {
			res.Kinds = append(res.Kinds, t.stats(res.FalseAlarms, perDay))
		}
	}
	res.Kinds = append(res.Kinds, all.stats(res.FalseAlarms, perDay))
	return res, nil
}

// kindsOf returns the kinds of events in report order: scenario.Kinds()
// first, then others (those of capture timelines) by name, so the rows of
// two timelines line up.
func kindsOf(events []scenario.Event) []scenario.Kind {
	var others []scenario.Kind
	for _, ev := range events {
		if !slices.Contains(scenario.Kinds(), ev.Kind) && !slices.Contains(others, ev.Kind) {
			others = append(others, ev.Kind)
		}
	}
	slices.Sort(others)
	return append(scenario.Kinds(), others...)
}

// phenomena counts the false alarms in the normal rounds of each phenomenon.
func phenomena(active []scenario.Phenomena, normal, flagged []bool, days float64) []PhenomenonStats {
	var out []PhenomenonStats
	for _, p := range scenario.EveryPhenomenon() {
		st := PhenomenonStats{Phenomenon: p}
		for i, a := range active {
			if normal[i] && a.Has(p) {
				st.Rounds++
				if flagged[i] {
					st.FalseAlarms++
				}
			}
		}
		if days > 0 {
			st.FalseAlarmsPerDay = float64(st.FalseAlarms) / days
		}
		out = append(out, st)
	}
	return out
}

// atOneADay flags the rounds scoring above the (allowed+1)-th highest
// normal score, so at most allowed normal rounds are flagged; it returns
// that score too.
func atOneADay(scores []float64, normal []bool, allowed int) (float64, []bool) {
	var ns []float64
	for i, s := range scores {
		if normal[i] {
			ns = append(ns, s)
		}
	}
	slices.SortFunc(ns, func(a, b float64) int { return cmp.Compare(b, a) })
	threshold := math.Inf(-1)
	if allowed < len(ns) {
		threshold = ns[allowed]
	}
	out := make([]bool, len(scores))
	for i, s := range scores {
		out[i] = s > threshold
	}
	return threshold, out
}

// tally accumulates events of one kind.
type tally struct {
	kind             string
	events, detected int
	ttdSum, ttdMax   int
	oracle           int // detected at the 1-a-day threshold
}

func (t *tally) add(ev scenario.Event, flagged, oracle []bool) {
	t.events++
	if slices.Contains(oracle[ev.Start:ev.End], true) {
		t.oracle++
	}
	for i := ev.Start; i < ev.End; i++ {
		if flagged[i] {
			t.detected++
			t.ttdSum += i - ev.Start
			t.ttdMax = max(t.ttdMax, i-ev.Start)
			return
		}
	}
}

func (t *tally) stats(falseAlarms int, perDay float64) Stats {
	s := Stats{Kind: t.kind, Events: t.events, Detected: t.detected, FalseAlarmsPerDay: perDay}
	if t.events > 0 {
		s.Recall = float64(t.detected) / float64(t.events)
		s.RecallAt1 = float64(t.oracle) / float64(t.events)
	}
	if t.detected+falseAlarms > 0 {
		s.Precision = float64(t.detected) / float64(t.detected+falseAlarms)
	}
	if s.Precision+s.Recall > 0 {
		s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
	}
	if t.detected > 0 {
		s.TTDMean = float64(t.ttdSum) / float64(t.detected)
		s.TTDMax = float64(t.ttdMax)
	}
	return s
}
