package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"gonum.org/v1/plot/vg"

	"portwatch/pkg/atomicfile"
	"portwatch/pkg/chart"
	"portwatch/pkg/command"
	"portwatch/pkg/detector"
	"portwatch/pkg/modelfile"
	"portwatch/pkg/store"
)

// detectFlags are the flags of the default action.
func detectFlags() []cli.Flag {
	def := detector.DefaultConfig("")
	return append([]cli.Flag{
		&cli.StringFlag{Name: "db", Aliases: []string{"d"}, Required: true, Usage: "the portwatch database `FILE`"},
		&cli.StringFlag{Name: "model", Usage: "the model `FILE` (default: portae.onnx beside the database)"},
		&cli.StringFlag{Name: "since", Usage: "score the rounds of the last `DURATION` (24h, 7d) again; changes nothing"},
		&cli.StringFlag{Name: "from", Usage: "score rounds starting at or after `TIME` (RFC 3339) again; changes nothing"},
		&cli.StringFlag{Name: "to", Usage: "with --from: rounds starting before `TIME` (RFC 3339; default now)"},
		&cli.BoolFlag{Name: "json", Usage: "one JSON object per scored round and line"},
		&cli.BoolFlag{Name: "all", Usage: "show every scored round, not only anomalous ones"},
		&cli.BoolFlag{Name: "no-refit", Usage: "do not train on the normal rounds after scoring"},
		&cli.BoolFlag{Name: "train", Usage: "build the model anew from the complete rounds in the range (default: the newest 3 days), calibrate, save"},
		&cli.StringFlag{Name: "plot", Usage: "draw the scores, threshold and anomalies into `FILE.png`"},
		&cli.IntFlag{Name: "rounds", Aliases: []string{"r"}, Usage: "score at most `N` rounds per run (0: all)"},
		&cli.IntFlag{Name: "min-rounds", Value: def.MinRounds, Usage: "complete rounds with an occupancy scan needed before the first model is trained (capture rounds from collect --pcap are never scored or trained on)"},
		&cli.Float64Flag{Name: "threshold-q", Value: def.Risk, Usage: "false-alarm rate `Q` the threshold is calibrated for"},
		&cli.BoolFlag{Name: "reset-model", Usage: "set an unusable model file aside (renamed FILE.reset-TIME) and start a new one"},
		command.LogFormatFlag(),
	}, incidentFlags()...)
}

// memoryLimit is the Go runtime's soft memory limit for a run.
const memoryLimit = 300 << 20

// request is what the flags ask for, checked.
type request struct {
	db, model  string
	from, to   time.Time
	ranged     bool
	train      bool
	json, all  bool
	plot       string
	resetModel bool
	cfg        detector.Config
	inc        incidentRequest
}

func parseRequest(c *cli.Context, now time.Time) (*request, error) {
	if c.NArg() > 0 {
		return nil, command.Usagef("unexpected argument %q", c.Args().First())
	}
	r := &request{
		db: c.String("db"), model: c.String("model"), train: c.Bool("train"),
		json: c.Bool("json"), all: c.Bool("all"), plot: c.String("plot"), resetModel: c.Bool("reset-model"),
	}
	if r.model == "" {
		r.model = filepath.Join(filepath.Dir(r.db), "portae.onnx")
	}
	if _, err := os.Stat(r.db); err != nil {
		return nil, command.Usagef("database %s: %w; pass the file collect writes", r.db, err)
	}
	switch {
	case c.IsSet("since") && (c.IsSet("from") || c.IsSet("to")):
		return nil, command.Usagef("--since and --from/--to: pass one or the other")
	case c.IsSet("to") && !c.IsSet("from"):
		return nil, command.Usagef("--to needs --from")
	case c.IsSet("since"):
		d, err := command.ParseDuration(c.String("since"))
		if err != nil {
			return nil, command.Usagef("--since: %w", err)
		}
		r.from, r.ranged = now.Add(-d), true
	case c.IsSet("from"):
		var err error
		if r.from, err = time.Parse(time.RFC3339, c.String("from")); err != nil {
			return nil, command.Usagef("--from %q: want an RFC 3339 time such as 2026-11-21T10:00:00Z", c.String("from"))
		}
		if c.IsSet("to") {
			if r.to, err = time.Parse(time.RFC3339, c.String("to")); err != nil {
				return nil, command.Usagef("--to %q: want an RFC 3339 time such as 2026-11-21T11:00:00Z", c.String("to"))
			}
			if !r.to.After(r.from) {
				return nil, command.Usagef("--to %s is not after --from %s", c.String("to"), c.String("from"))
			}
		}
		r.ranged = true
	}
	var err error
	cfg := detector.DefaultConfig(r.model)
	cfg.MaxRounds = c.Int("rounds")
	cfg.MinRounds = c.Int("min-rounds")
	cfg.Risk = c.Float64("threshold-q")
	cfg.Refit = !c.Bool("no-refit")
	switch {
	case cfg.MaxRounds < 0:
		return nil, command.Usagef("-r %d: want 0 (all) or more", cfg.MaxRounds)
	case cfg.MinRounds < 1:
		return nil, command.Usagef("--min-rounds %d: want at least 1", cfg.MinRounds)
	case !(cfg.Risk > 0 && cfg.Risk < 1):
		return nil, command.Usagef("--threshold-q %g: want a rate between 0 and 1, such as 1e-4", cfg.Risk)
	}
	r.cfg = cfg
	if r.inc, err = parseIncidentRequest(c); err != nil {
		return nil, err
	}
	return r, nil
}

// runDetect is the default action: the cron job, a range scored again, or
// a training, as the flags say.
func runDetect(c *cli.Context) error {
	log, err := command.Logger(c, c.App.ErrWriter)
	if err != nil {
		return err
	}
	r, err := parseRequest(c, time.Now())
	if err != nil {
		return err
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// The live heap of a run is about 250 MB; Go's default pacing lets
		// the heap grow to twice that before collecting, past the 500 MB
		// the hourly job may use. A soft limit makes it collect sooner.
		debug.SetMemoryLimit(memoryLimit)
	}
	// Scoring a range again only reads, so it runs beside a cron run.
	writes := !r.ranged || r.train || r.resetModel
	if writes {
		lock, err := store.TryLock(r.db, "detect")
		if err != nil {
			return err
		}
		defer lock.Unlock()
	}
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	db, err := store.Open(ctx, r.db, store.WithLogger(log))
	if err != nil {
		return err
	}
	defer db.Close()
	if writes {
		// Load, refit and save in turn with detects of other databases
		// sharing this model, so neither save drops the other's refit.
		mlock, err := store.WaitLock(ctx, r.model)
		if err != nil {
			return fmt.Errorf("model %s: %w", r.model, err)
		}
		defer mlock.Unlock()
	}
	if r.resetModel {
		if err := setAside(r.model, time.Now()); err != nil {
			return err
		}
	}
	if (r.ranged || r.train) && isTerminal(c.App.ErrWriter) {
		r.cfg.Progress = progressBar(c.App.ErrWriter)
	}
	cron := !r.ranged && !r.train
	acc, rules, err := acceptor(ctx, db, r.inc.allow)
	if err != nil {
		return err
	}
	if cron {
		r.cfg.Acceptor = acc
	}
	d := detector.New(r.cfg, log)
	var res *detector.Result
	switch {
	case r.train:
		res, err = d.Train(ctx, db, r.from, r.to)
	case r.ranged:
		res, err = d.Score(ctx, db, r.from, r.to)
	default:
		res, err = d.Run(ctx, db)
	}
	var me *modelfile.Error
	if errors.As(err, &me) || errors.Is(err, detector.ErrNoModel) {
		return &command.UsageError{Err: err}
	}
	if err != nil {
		return err
	}
	tk, err := trackIncidents(ctx, db, r.inc, rules, res.Rounds, cron, log)
	if err != nil {
		return err
	}
	if cron && res.Refit && len(res.Relearned) > 0 {
		if err := db.RefitDone(ctx, acc.Pending()); err != nil {
			return err
		}
	}
	if r.inc.metrics != "" {
		if err := writeMetrics(ctx, r.inc.metrics, r.model, db, res, tk, r.cfg.MinRounds); err != nil {
			return err
		}
	}
	return report(c.App.Writer, c.App.ErrWriter, r, res, tk.incidents)
}

// report prints the result and draws the plot.
func report(stdout, stderr io.Writer, r *request, res *detector.Result, ins []store.Incident) error {
	if l := res.Learning; l != nil {
		w := stdout
		if r.json {
			w = stderr // stdout stays JSON lines
		}
		_, err := fmt.Fprintf(w, "learning: %d of %d rounds\n", l.Have, l.Need)
		return err
	}
	if t := res.Trained; t != nil && !r.json {
		fmt.Fprintf(stdout, "trained on %d rounds (%d windows, %d epochs, loss %.3g); limits calibrated on %d held-out rounds: total %.1f nats (%s), peak %.2f nats (%s), hour %.2f nats\n",
			t.Rounds, t.Windows, t.Epochs, t.Loss, t.Calibrated, t.TotalLimit, t.TotalMethod, t.PeakLimit, t.PeakMethod, t.HourLimit)
	}
	var err error
	switch {
	case r.json:
		err = detector.WriteJSON(stdout, res.Rounds, r.all)
	case r.inc.roundsView || r.train:
		err = detector.WriteTable(stdout, res.Rounds, r.all)
	default:
		err = writeIncidents(stdout, ins, false)
		if err == nil {
			err = writeSummary(stdout, res.Rounds, ins)
		}
	}
	if err != nil || r.plot == "" {
		return err
	}
	return writePlot(r.plot, res.Rounds)
}

// writePlot draws rs into the PNG file path, mode 0644 (a chart holds
// no more than detect prints), written beside and renamed into place. A
// symbolic link at path is refused: following it would let whoever planted
// it have this run (often root) overwrite the file it points at.
func writePlot(path string, rs []detector.Scored) error {
	if err := atomicfile.NoSymlink(path); err != nil {
		return &command.UsageError{Err: fmt.Errorf("plot: %w", err)}
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

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar returns a detector.Config.Progress that redraws one line on w.
func progressBar(w io.Writer) func(done, total int) {
	const width = 30
	return func(done, total int) {
		n := width * done / max(total, 1)
		fmt.Fprintf(w, "\r[%-*s] %d/%d windows", width, strings.Repeat("=", n), done, total)
		if done >= total {
			fmt.Fprintln(w)
		}
	}
}
