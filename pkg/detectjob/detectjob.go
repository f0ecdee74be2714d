// Package detectjob is the detect program's run around pkg/detector: it
// checks what was asked, takes detect's lock on the database and the
// model's lock, sets an unusable model aside when asked, runs the cron job,
// a range scored again or a training with the accepted causes, folds the
// verdicts into incidents and prints them (or the rounds, or JSON lines),
// with a plot when asked; the cron job then notifies the incident events
// and writes textfile metrics when asked.
//
// The cron job's report is printed as soon as its batch is stored, before
// the refit and the save that may fail (a read-only directory, a full disk,
// a kill): the person reading cron's mail sees every stored anomaly. A refit
// that was not saved is retried by the next run (see detector.Run).
//
// Errors are sorted for the exit code with pkg/runerr: a missing database,
// a corrupt or foreign model, no trained model for a range, a plot path
// that is a link, and options that mean nothing are bad input.
package detectjob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"gonum.org/v1/plot/vg"

	"portwatch/pkg/atomicfile"
	"portwatch/pkg/chart"
	"portwatch/pkg/detector"
	"portwatch/pkg/incident"
	"portwatch/pkg/modelfile"
	"portwatch/pkg/notify"
	"portwatch/pkg/runerr"
	"portwatch/pkg/store"
)

// LockName names detect's run lock (store.TryLock).
const LockName = "detect"

// Options are one detect run's settings; cmd/detect's flags fill them.
type Options struct {
	DB    string
	Model string // "" for portae.onnx beside DB
	// Ranged scores the rounds starting in [From, To) again (To zero: no
	// end) and changes nothing; with Train, the range is trained on instead.
	Ranged     bool
	From, To   time.Time
	Train      bool            // build the model anew, calibrate, save
	ResetModel bool            // set the model file aside (FILE.reset-TIME) first
	JSON, All  bool            // JSON lines; every scored round, not only anomalies
	Plot       string          // draw the scores into this PNG file
	RoundsView bool            // list anomalous rounds, not incidents
	CloseAfter int             // close an incident after this many rounds without its cause
	Allow      []incident.Rule // causes accepted beside those in the database
	Sinks      []notify.Sink   // where the cron run's incident events go
	Metrics    string          // write textfile metrics to this .prom file
	Config     detector.Config
	Stdout     io.Writer // the report
	Stderr     io.Writer // the learning line when Stdout is JSON lines
	Now        func() time.Time
}

// ModelPath is the model file the options name.
func (o *Options) ModelPath() string {
	if o.Model != "" {
		return o.Model
	}
	return filepath.Join(filepath.Dir(o.DB), "portae.onnx")
}

func (o *Options) check() error {
	switch {
	case o.DB == "":
		return runerr.BadInputf("no database given")
	case o.ResetModel && o.Ranged && !o.Train:
		return runerr.BadInputf("reset model with a range to score: scoring a range changes nothing, so it resets no model; reset in a run without a range")
	case o.CloseAfter < 1:
		return runerr.BadInputf("--close-after %d: want at least 1", o.CloseAfter)
	}
	if _, err := os.Stat(o.DB); err != nil {
		return runerr.BadInputf("database %s: %w; pass the file collect writes", o.DB, err)
	}
	return nil
}

// Run runs detect as o asks.
func Run(ctx context.Context, o Options, log *slog.Logger) error {
	if err := o.check(); err != nil {
		return err
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	model := o.ModelPath()
	// Scoring a range again only reads, so it runs beside a cron run.
	writes := !o.Ranged || o.Train || o.ResetModel
	if writes {
		lock, err := store.TryLock(o.DB, LockName)
		if err != nil {
			return err
		}
		defer lock.Unlock()
	}
	db, err := store.Open(ctx, o.DB, store.WithLogger(log))
	if err != nil {
		return err
	}
	defer db.Close()
	if writes {
		// Load, refit and save in turn with detects of other databases
		// sharing this model, so neither save drops the other's refit.
		mlock, err := store.WaitLock(ctx, model)
		if err != nil {
			return fmt.Errorf("model %s: %w", model, err)
		}
		defer mlock.Unlock()
	}
	if o.ResetModel {
		if err := setAside(model, now()); err != nil {
			return err
		}
	}
	cron := !o.Ranged && !o.Train
	acc, rules, err := acceptor(ctx, db, o.Allow)
	if err != nil {
		return err
	}
	cfg := o.Config
	cfg.ModelPath = model
	if cron {
		cfg.Acceptor = acc
	}
	var tk tracked
	printed := false
	// The cron run tracks, prints and notifies as soon as its batch is
	// stored, before the refit and save that may fail.
	cfg.Report = func(res *detector.Result) error {
		printed = true
		return o.track(ctx, db, rules, res, cron, &tk, log)
	}
	d := detector.New(cfg, log)
	var res *detector.Result
	switch {
	case o.Train:
		res, err = d.Train(ctx, db, o.From, o.To)
	case o.Ranged:
		res, err = d.Score(ctx, db, o.From, o.To)
	default:
		res, err = d.Run(ctx, db)
	}
	var me *modelfile.Error
	if errors.As(err, &me) || errors.Is(err, detector.ErrNoModel) {
		return runerr.BadInput(err)
	}
	if err != nil {
		return err
	}
	if !printed {
		if err := o.track(ctx, db, rules, res, cron, &tk, log); err != nil {
			return err
		}
	}
	if cron && res.Refit && len(res.Relearned) > 0 {
		if err := db.RefitDone(ctx, acc.Pending()); err != nil {
			return err
		}
	}
	if o.Metrics != "" {
		return writeMetrics(ctx, o.Metrics, model, db, res, tk, cfg.MinRounds)
	}
	return nil
}

// track folds res into incidents (stored when save), prints the report
// and notifies the events. When the incidents cannot be stored, the rounds
// are printed instead so no stored anomaly goes unseen.
func (o *Options) track(ctx context.Context, db *store.DB, rules []incident.Rule, res *detector.Result, save bool, tk *tracked, log *slog.Logger) error {
	var err error
	if *tk, err = trackIncidents(ctx, db, rules, o.CloseAfter, res.Rounds, save); err != nil {
		rounds := *o
		rounds.RoundsView = true
		return errors.Join(rounds.report(res, nil), err)
	}
	if err := o.report(res, tk.incidents); err != nil {
		return err
	}
	notifyEvents(ctx, o.Sinks, tk, log)
	return nil
}

// report prints the result and draws the plot.
func (o *Options) report(res *detector.Result, ins []store.Incident) error {
	if l := res.Learning; l != nil {
		w := o.Stdout
		if o.JSON {
			w = o.Stderr // stdout stays JSON lines
		}
		_, err := fmt.Fprintf(w, "learning: %d of %d rounds\n", l.Have, l.Need)
		return err
	}
	if t := res.Trained; t != nil && !o.JSON {
		fmt.Fprintf(o.Stdout, "trained on %d rounds (%d windows, %d epochs, loss %.3g); limits calibrated on %d held-out rounds: total %.1f nats (%s), peak %.2f nats (%s), hour %.2f nats, start %.2f nats, load %.1f nats, gone %.2f nats\n",
			t.Rounds, t.Windows, t.Epochs, t.Loss, t.Calibrated, t.TotalLimit, t.TotalMethod, t.PeakLimit, t.PeakMethod, t.HourLimit,
			t.StartLimit, t.LoadLimit, t.GoneLimit)
	}
	var err error
	switch {
	case o.JSON:
		err = detector.WriteJSON(o.Stdout, res.Rounds, o.All)
	case o.RoundsView || o.Train:
		err = detector.WriteTable(o.Stdout, res.Rounds, o.All)
	default:
		err = WriteIncidents(o.Stdout, ins, false)
		if err == nil {
			err = writeSummary(o.Stdout, res.Rounds, ins)
		}
	}
	if err != nil || o.Plot == "" {
		return err
	}
	return WritePlot(o.Plot, res.Rounds)
}

// WritePlot draws rs into the PNG file path, mode 0644 (a chart holds
// no more than detect prints), written beside and renamed into place. A
// symbolic link at path is refused as bad input: following it would let
// whoever planted it have this run (often root) overwrite the file it
// points at.
func WritePlot(path string, rs []detector.Scored) error {
	if err := atomicfile.NoSymlink(path); err != nil {
		return runerr.BadInput(fmt.Errorf("plot: %w", err))
	}
	pts := make([]chart.Point, len(rs))
	for i, s := range rs {
		pts[i] = chart.Point{Time: s.Start, Score: s.Score, Threshold: s.Threshold, Anomalous: s.Anomalous}
	}
	var b bytes.Buffer
	if err := chart.WritePNG(&b, pts, "portwatch anomaly scores", 10*vg.Inch, 4*vg.Inch); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	if err := atomicfile.Write(path, b.Bytes(), atomicfile.Options{Mode: 0o644}); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}

// setAside renames an existing model file to path.reset-TIME, so a new
// model can start without losing the old one.
func setAside(path string, now time.Time) error {
	to := path + ".reset-" + now.UTC().Format("20060102T150405Z")
	if err := os.Rename(path, to); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reset model: %w", err)
	}
	return nil
}
