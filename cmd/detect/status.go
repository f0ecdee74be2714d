package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"portwatch/pkg/detector"
	"portwatch/pkg/modelfile"
	"portwatch/pkg/promfile"
	"portwatch/pkg/store"
)

// modelState is what status and the metrics tell of the model file.
type modelState struct {
	path       string
	exists     bool
	modified   time.Time
	calibrated bool
	rounds     int
	until      time.Time
	err        error
}

func readModel(path string) modelState {
	ms := modelState{path: path}
	st, err := os.Stat(path)
	if err != nil {
		return ms
	}
	ms.exists, ms.modified = true, st.ModTime()
	f, err := modelfile.Load(path, 1)
	if err != nil {
		ms.err = err
		return ms
	}
	ms.calibrated, ms.rounds, ms.until = f.Calibration != nil, f.Trained.Rounds, f.Trained.Until
	return ms
}

// openByKind counts the open incidents of each kind.
func openByKind(ctx context.Context, db *store.DB) (map[string]int, error) {
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

func status(c *cli.Context, db *store.DB) error {
	model := c.String("model")
	if model == "" {
		model = filepath.Join(filepath.Dir(db.Path()), "portae.onnx")
	}
	s, err := db.Summarize(c.Context)
	if err != nil {
		return err
	}
	kinds, err := openByKind(c.Context, db)
	if err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintf(w, "database:   %s, %.1f MB, %d rounds (%d complete), %d scored, %d anomalies\n",
		db.Path(), float64(s.Bytes)/1e6, s.Rounds, s.Complete, s.Scored, s.Anomalies)
	fmt.Fprintf(w, "collect:    last round %s\n", when(s.LastRound))
	fmt.Fprintf(w, "detect:     last run %s\n", when(s.LastDetect))
	ms := readModel(model)
	switch {
	case !ms.exists:
		fmt.Fprintf(w, "model:      %s absent (learning)\n", model)
	case ms.err != nil:
		fmt.Fprintf(w, "model:      %s unusable: %v\n", model, ms.err)
	default:
		fmt.Fprintf(w, "model:      %s, saved %s, trained on %d rounds up to %s, calibrated %v, threshold score 1\n",
			model, when(ms.modified), ms.rounds, when(ms.until), ms.calibrated)
	}
	names := make([]string, 0, len(kinds))
	for k, n := range kinds {
		names = append(names, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(names)
	_, err = fmt.Fprintf(w, "incidents:  %d open (%s), %d causes accepted\n", s.OpenIncidents, strings.Join(names, ", "), s.AcceptedCauses)
	return err
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.DateTime), time.Since(t).Round(time.Second))
}

// writeMetrics writes the textfile-collector metrics after a run.
func writeMetrics(ctx context.Context, path, model string, db *store.DB, res *detector.Result, tk tracked, minRounds int) error {
	s, err := db.Summarize(ctx)
	if err != nil {
		return err
	}
	kinds, err := openByKind(ctx, db)
	if err != nil {
		return err
	}
	ms := readModel(model)
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
		gauge("portwatch_model_timestamp_seconds", "when the model file was last saved (0: none)", unix(ms.modified)),
		gauge("portwatch_learning_ratio", "rounds collected over those needed for the first model (1: trained)", min(learning, 1)),
		gauge("portwatch_min_rounds", "rounds needed for the first model", float64(minRounds)),
		gauge("portwatch_incident_events", "incident events the last run notified", float64(tk.events)),
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
