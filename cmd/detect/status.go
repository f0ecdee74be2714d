package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"portwatch/pkg/detectjob"
	"portwatch/pkg/store"
)

func status(c *cli.Context, db *store.DB) error {
	model := c.String("model")
	if model == "" {
		model = filepath.Join(filepath.Dir(db.Path()), "portae.onnx")
	}
	s, err := db.Summarize(c.Context)
	if err != nil {
		return err
	}
	kinds, err := detectjob.OpenByKind(c.Context, db)
	if err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintf(w, "database:   %s, %.1f MB, %d rounds (%d complete), %d scored, %d anomalies\n",
		db.Path(), float64(s.Bytes)/1e6, s.Rounds, s.Complete, s.Scored, s.Anomalies)
	fmt.Fprintf(w, "collect:    last round %s\n", when(s.LastRound))
	fmt.Fprintf(w, "detect:     last run %s\n", when(s.LastDetect))
	ms := detectjob.ReadModel(model)
	switch {
	case !ms.Exists:
		fmt.Fprintf(w, "model:      %s absent (learning)\n", model)
	case ms.Err != nil:
		fmt.Fprintf(w, "model:      %s unusable: %v\n", model, ms.Err)
	default:
		fmt.Fprintf(w, "model:      %s, saved %s, trained on %d rounds up to %s, calibrated %v, threshold score 1\n",
			model, when(ms.Modified), ms.Rounds, when(ms.Until), ms.Calibrated)
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
