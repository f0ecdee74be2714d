package detectjob

import (
	"context"
	"os"
	"slices"
	"time"

	"portwatch/pkg/detector"
	"portwatch/pkg/modelfile"
	"portwatch/pkg/promfile"
	"portwatch/pkg/store"
)

// ModelState is what status and the metrics tell of the model file.
type ModelState struct {
	Path       string
	Exists     bool
	Modified   time.Time
	Calibrated bool
	Rounds     int
	Until      time.Time
	Err        error
}

// ReadModel tells what is known of the model file at path.
func ReadModel(path string) ModelState {
	ms := ModelState{Path: path}
	st, err := os.Stat(path)
	if err != nil {
		return ms
	}
	ms.Exists, ms.Modified = true, st.ModTime()
	f, err := modelfile.Load(path, 1)
	if err != nil {
		ms.Err = err
		return ms
	}
	ms.Calibrated, ms.Rounds, ms.Until = f.Calibration != nil, f.Trained.Rounds, f.Trained.Until
	return ms
}

// OpenByKind counts the open incidents of each kind.
func OpenByKind(ctx context.Context, db *store.DB) (map[string]int, error) {
	open, err := db.Incidents(ctx, store.IncidentOpen)
	if err != nil {
		return nil, err
	}
	n := map[string]int{}
	for _, in := range open {
		n[in.Kind]++
	}
	return n, nil
}

// writeMetrics writes the textfile-collector metrics after a run.
func writeMetrics(ctx context.Context, path, model string, db *store.DB, res *detector.Result, tk tracked, minRounds int) error {
	s, err := db.Summarize(ctx)
	if err != nil {
		return err
	}
	kinds, err := OpenByKind(ctx, db)
	if err != nil {
		return err
	}
	ms := ReadModel(model)
	gauge := func(name, help string, v float64) promfile.Gauge {
		return promfile.Gauge{Name: name, Help: help, Samples: []promfile.Sample{{Value: v}}}
	}
	unix := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return float64(t.UnixNano()) / 1e9
	}
	learning := 1.0
	if l := res.Learning; l != nil {
		learning = float64(l.Have) / float64(max(l.Need, 1))
	}
	gs := []promfile.Gauge{
		gauge("portwatch_last_round_timestamp_seconds", "end of the newest collection round", unix(s.LastRound)),
		gauge("portwatch_last_detect_timestamp_seconds", "time of the newest detect run", unix(s.LastDetect)),
		gauge("portwatch_rounds_scored", "rounds detect has scored", float64(s.Scored)),
		gauge("portwatch_model_timestamp_seconds", "when the model file was last saved (0: none)", unix(ms.Modified)),
		gauge("portwatch_learning_ratio", "rounds collected over those needed for the first model (1: trained)", min(learning, 1)),
		gauge("portwatch_min_rounds", "rounds needed for the first model", float64(minRounds)),
		gauge("portwatch_incident_events", "incident events the last run notified", float64(tk.sent)),
		gauge("portwatch_notify_failures", "notification deliveries that failed in the last run", float64(tk.failed)),
	}
	if n := len(res.Rounds); n > 0 {
		gs = append(gs, gauge("portwatch_last_score", "score of the newest scored round (threshold 1)", res.Rounds[n-1].Score))
	}
	open := promfile.Gauge{Name: "portwatch_open_incidents", Help: "open incidents by kind"}
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		open.Samples = append(open.Samples, promfile.Sample{Labels: []string{"kind", k}, Value: float64(kinds[k])})
	}
	return promfile.Write(path, append(gs, open))
}
