// Command quality prints portwatch's detection-quality report: it generates
// a labelled scenario timeline (pkg/scenario), runs each detector on it
// through the harness (pkg/quality) and prints precision, recall, F1, false
// alarms per day and time to detect per anomaly kind.
//
//	go run ./internal/eval/cmd/quality [-profile mixed|server|busy-server|workstation|all] [-seed 1] [-train-days 3] [-test-days 4] [-events 20] [-db file] [-only new-port,iqr] [-list]
//
// With -db the timeline is written into a new portwatch database through
// the store and read back with the features loader, so detectors see
// rounds exactly as detect would.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"portwatch/internal/eval/baseline"
	"portwatch/internal/eval/quality"
	"portwatch/internal/eval/scenario"
	"portwatch/pkg/detector"
	"portwatch/pkg/features"
	"portwatch/pkg/store"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quality:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("quality", flag.ContinueOnError)
	cfg := scenario.Config{}
	fs.Uint64Var(&cfg.Seed, "seed", 1, "scenario seed")
	fs.IntVar(&cfg.TrainDays, "train-days", 3, "days of normal rounds to train on")
	fs.IntVar(&cfg.TestDays, "test-days", 4, "days of rounds to score, with the events")
	fs.IntVar(&cfg.EventsPerKind, "events", 20, "events of each kind")
	fs.IntVar(&cfg.Sleeps, "sleeps", 3, "nights the host sleeps for hours")
	fs.StringVar(&cfg.JobProcess, "job-process", "", "the hourly job's program (default batch-job, its own)")
	dbPath := fs.String("db", "", "write the timeline into this new database and read it back")
	verbose := fs.Bool("v", false, "show the detectors' progress on stderr")
	only := fs.String("only", "", "run only these detectors, comma-separated (default: all)")
	list := fs.Bool("list", false, "also list each event with each detector's outcome and score")
	profile := fs.String("profile", string(scenario.Mixed), "host profiles, comma-separated, or all")
	base := detector.DefaultConfig("")
	channels := fs.String("channels", "", "portwatch's model channels, comma-separated (default: detect's)")
	fs.IntVar(&base.Epochs, "epochs", base.Epochs, "portwatch's training epochs")
	fs.IntVar(&base.EpochSize, "epoch-size", base.EpochSize, "portwatch's windows per training epoch")
	fs.BoolVar(&base.ModelOnly, "model-only", false, "judge portwatch and the ablations on the model's statistics alone (no hour or phase counts)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *channels != "" {
		base.Channels = strings.Split(*channels, ",")
	}
	profiles, err := parseProfiles(*profile)
	if err != nil {
		return err
	}
	if *dbPath != "" && len(profiles) > 1 {
		return fmt.Errorf("-db takes one profile, not %d", len(profiles))
	}
	var errs []error
	for _, p := range profiles {
		cfg.Profile = p
		if err := report(ctx, cfg, base, *dbPath, *only, *list, *verbose, out); err != nil {
			errs = append(errs, fmt.Errorf("profile %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// parseProfiles reads -profile: names, comma-separated, or all.
func parseProfiles(s string) ([]scenario.Profile, error) {
	if s == "all" {
		return scenario.Profiles(), nil
	}
	var out []scenario.Profile
	for _, name := range strings.Split(s, ",") {
		p := scenario.Profile(name)
		if !slices.Contains(scenario.Profiles(), p) {
			return nil, fmt.Errorf("unknown profile %q; known profiles are %v or all", name, scenario.Profiles())
		}
		out = append(out, p)
	}
	return out, nil
}

// checkOnly returns an error naming each detector of only, a comma-separated
// list (empty: all), that is not among names: a misspelt -only would
// otherwise run nothing and print an empty report.
func checkOnly(only string, names []string) error {
	if only == "" {
		return nil
	}
	for _, n := range strings.Split(only, ",") {
		if !slices.Contains(names, n) {
			return fmt.Errorf("-only: unknown detector %q (known: %s)", n, strings.Join(names, ", "))
		}
	}
	return nil
}

// report generates the timeline of cfg, runs the detectors on it and prints their results.
func report(ctx context.Context, cfg scenario.Config, base detector.Config, dbPath, only string, list, verbose bool, out io.Writer) error {
	all, err := features.NewLayout(features.OccupancyChannels())
	if err != nil {
		return err
	}
	listen, err := features.NewLayout([]string{features.TCPListen})
	if err != nil {
		return err
	}
	detectors := []struct {
		name string
		d    quality.Detector
	}{
		{"new-port", baseline.NewUnseen(all)},
		{"new-listener", baseline.NewUnseen(listen)},
		{"iqr", baseline.NewIQR(all)},
		{"portwatch", quality.NewPortwatch(base, logger(verbose))},
		// Ablations: portwatch's statistics on tables instead of the model's output.
		{"table", quality.NewPortwatch(ablated(base, detector.AblateTable), logger(verbose))},
		{"phase-table", quality.NewPortwatch(ablated(base, detector.AblatePhase), logger(verbose))},
		{"seasonal", quality.NewPortwatch(ablated(base, detector.AblateSeasonal), logger(verbose))},
	}
	var names []string
	for _, d := range detectors {
		names = append(names, d.name)
	}
	if err := checkOnly(only, names); err != nil {
		return err
	}
	tl, err := scenario.Generate(cfg)
	if err != nil {
		return err
	}
	if dbPath != "" {
		if tl.Rounds, err = roundTrip(ctx, tl, dbPath); err != nil {
			return err
		}
	}
	// A detector that fails is named at the end; the others still report.
	var results []quality.Result
	var errs []error
	for _, d := range detectors {
		if only != "" && !slices.Contains(strings.Split(only, ","), d.name) {
			continue
		}
		res, err := quality.Run(tl, d.name, d.d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		results = append(results, res)
	}
	fmt.Fprintf(out, "\n%s host, scenario seed %d: %d training rounds, %d test rounds, %d events; grace %d rounds\n\n",
		cfg.Profile, cfg.Seed, tl.Train, len(tl.Rounds)-tl.Train, len(tl.Events), quality.Grace)
	if err := quality.Print(out, results); err != nil {
		errs = append(errs, err)
	}
	if list {
		for _, r := range results {
			fmt.Fprintln(out)
			if err := quality.PrintEvents(out, r); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func ablated(cfg detector.Config, a detector.Ablation) detector.Config {
	cfg.Ablation = a
	return cfg
}

func logger(verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// roundTrip writes tl into a new database at path and loads its rounds back.
func roundTrip(ctx context.Context, tl *scenario.Timeline, path string) ([]store.Round, error) {
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("database %s exists; pass a new file", path)
	}
	db, err := store.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := tl.Write(ctx, db); err != nil {
		return nil, err
	}
	return db.Rounds(ctx, store.RoundQuery{Source: scenario.Source})
}
