package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"portwatch/pkg/command"
	"portwatch/pkg/detectjob"
	"portwatch/pkg/detector"
	"portwatch/pkg/runerr"
)

// detectFlags are the flags of the default action.
func detectFlags() []cli.Flag {
	def := detector.DefaultConfig("")
	return append([]cli.Flag{
		&cli.StringFlag{Name: "db", Aliases: []string{"d"}, Usage: "the portwatch database `FILE` (required)"},
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
		&cli.BoolFlag{Name: "reset-model", Usage: "set an unusable model file aside (renamed FILE.reset-TIME) and start a new one; not with --since or --from, which change nothing"},
		command.LogFormatFlag(),
	}, incidentFlags()...)
}

// memoryLimit is the Go runtime's soft memory limit for a run.
const memoryLimit = 300 << 20

// options reads the flags into detectjob.Options, checking what only the
// command line can get wrong.
func options(c *cli.Context, now time.Time) (detectjob.Options, error) {
	o := detectjob.Options{
		DB: c.String("db"), Model: c.String("model"), Train: c.Bool("train"),
		JSON: c.Bool("json"), All: c.Bool("all"), Plot: c.String("plot"), ResetModel: c.Bool("reset-model"),
		Stdout: c.App.Writer, Stderr: c.App.ErrWriter,
	}
	if err := command.NoArgs(c); err != nil {
		return o, err
	}
	if err := command.NeedDB(c); err != nil {
		return o, err
	}
	switch {
	case c.IsSet("since") && (c.IsSet("from") || c.IsSet("to")):
		return o, runerr.BadInputf("--since and --from/--to: pass one or the other")
	case c.IsSet("to") && !c.IsSet("from"):
		return o, runerr.BadInputf("--to needs --from")
	case c.IsSet("since"):
		d, err := command.ParseDuration(c.String("since"))
		if err != nil {
			return o, runerr.BadInputf("--since: %w", err)
		}
		o.From, o.Ranged = now.Add(-d), true
	case c.IsSet("from"):
		var err error
		if o.From, err = time.Parse(time.RFC3339, c.String("from")); err != nil {
			return o, runerr.BadInputf("--from %q: want an RFC 3339 time such as 2026-11-21T10:00:00Z", c.String("from"))
		}
		if c.IsSet("to") {
			if o.To, err = time.Parse(time.RFC3339, c.String("to")); err != nil {
				return o, runerr.BadInputf("--to %q: want an RFC 3339 time such as 2026-11-21T11:00:00Z", c.String("to"))
			}
			if !o.To.After(o.From) {
				return o, runerr.BadInputf("--to %s is not after --from %s", c.String("to"), c.String("from"))
			}
		}
		o.Ranged = true
	}
	if o.ResetModel && o.Ranged && !o.Train {
		return o, runerr.BadInputf("--reset-model with --since or --from: scoring a range changes nothing, so it resets no model; drop one of them")
	}
	cfg := detector.DefaultConfig("")
	cfg.MaxRounds = c.Int("rounds")
	cfg.MinRounds = c.Int("min-rounds")
	cfg.Risk = c.Float64("threshold-q")
	cfg.Refit = !c.Bool("no-refit")
	switch {
	case cfg.MaxRounds < 0:
		return o, runerr.BadInputf("-r %d: want 0 (all) or more", cfg.MaxRounds)
	case cfg.MinRounds < 1:
		return o, runerr.BadInputf("--min-rounds %d: want at least 1", cfg.MinRounds)
	case !(cfg.Risk > 0 && cfg.Risk < 1):
		return o, runerr.BadInputf("--threshold-q %g: want a rate between 0 and 1, such as 1e-4", cfg.Risk)
	}
	if (o.Ranged || o.Train) && isTerminal(c.App.ErrWriter) {
		cfg.Progress = progressBar(c.App.ErrWriter)
	}
	o.Config = cfg
	return o, incidentOptions(c, &o)
}

// runDetect is the default action: the cron job, a range scored again, or
// a training, as the flags say.
func runDetect(c *cli.Context) error {
	log, err := command.Logger(c, c.App.ErrWriter)
	if err != nil {
		return err
	}
	o, err := options(c, time.Now())
	if err != nil {
		return err
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// The live heap of a run is about 250 MB; Go's default pacing lets
		// the heap grow to twice that before collecting, past the 500 MB
		// the hourly job may use. A soft limit makes it collect sooner.
		debug.SetMemoryLimit(memoryLimit)
	}
	return detectjob.Run(c.Context, o, log)
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
