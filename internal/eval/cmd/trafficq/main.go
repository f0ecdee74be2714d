// Command trafficq prints how well detectors find scans, floods, DNS
// tunnels and bots in real traffic: it builds a capture timeline from the
// shared captures (internal/eval/pcaptl), writes it as a pcap and its
// ground truth, ingests the pcap with collect into a new database in
// rounds of a minute, runs each detector on the rounds (trained on the
// first hours, scoring the rest) and prints per kind recall, false alarms
// per day of benign rounds and time to detect, one row per detector.
//
//	go run ./internal/eval/cmd/trafficq [-seed 1] [-train-hours 6] [-test-hours 18] [-events 8] [-out DIR] [-pcaps ../shared/pcaps] [-list]
//
// The baselines read the timeline's pcap, cut into the same rounds as
// collect cuts (the harness checks the round starts agree):
//
//   - ratio: netspot-style, distinct destination ports over distinct
//     source ports, and SYN share, above 1.5x their training maximum;
//   - zeek-scan: Zeek's scan policy, a source's failed attempts on 15
//     ports of a local host or 25 local hosts on one port within 5 min.
//
// Without -out the files go to a temporary directory, removed at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"portwatch/internal/eval/pcaptl"
	"portwatch/internal/eval/quality"
	"portwatch/internal/eval/scenario"
	"portwatch/pkg/collect"
	"portwatch/pkg/store"

	pwdetector "portwatch/pkg/detector"
	"portwatch/pkg/features"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "trafficq:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	cfg   pcaptl.Config
	out   string
	pcaps string
	list  bool
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("trafficq", flag.ContinueOnError)
	var o options
	fs.Uint64Var(&o.cfg.Seed, "seed", 1, "timeline seed (1 is for development; 2 and 3 are held out)")
	trainHours := fs.Float64("train-hours", 6, "hours of background to train on")
	testHours := fs.Float64("test-hours", 18, "hours of rounds to score, with the events")
	fs.IntVar(&o.cfg.EventsPerKind, "events", 8, "events of each kind")
	fs.StringVar(&o.out, "out", "", "write the timeline, its ground truth and the database into this `DIR` (default: a temporary one, removed)")
	fs.StringVar(&o.pcaps, "pcaps", "../shared/pcaps", "the shared captures' `DIR`")
	fs.BoolVar(&o.list, "list", false, "also list each event with each detector's outcome")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.cfg.TrainMinutes, o.cfg.TestMinutes = int(*trainHours*60+0.5), int(*testHours*60+0.5)
	if err := o.cfg.Validate(); err != nil {
		return err
	}
	if o.out == "" {
		dir, err := os.MkdirTemp("", "trafficq-")
		if err != nil {
			return fmt.Errorf("make a temporary directory: %w", err)
		}
		defer os.RemoveAll(dir)
		o.out = dir
	} else if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("make output directory: %w", err)
	}
	return report(ctx, pcaptl.DefaultInputs(o.pcaps), o, out)
}

// timings are how long each step took.
type timings struct{ load, build, write, ingest, read, cut time.Duration }

// report builds the timeline from in, ingests it, runs the detectors and prints the results.
func report(ctx context.Context, in pcaptl.Inputs, o options, out io.Writer) error {
	var tm timings
	t0 := time.Now()
	lib, err := pcaptl.Load(ctx, in)
	if err != nil {
		return err
	}
	t1 := time.Now()
	tl, err := lib.Timeline(o.cfg)
	if err != nil {
		return err
	}
	t2 := time.Now()
	pcap, truth, err := tl.Write(o.out)
	if err != nil {
		return err
	}
	t3 := time.Now()
	dbPath := filepath.Join(o.out, "portwatch.db")
	if err := removeOld(dbPath); err != nil {
		return err
	}
	copts := collect.Options{DB: dbPath, Pcaps: []string{pcap}, Round: time.Minute, Local: tl.Local,
		ScanInterval: 5 * time.Second, ScanMethod: collect.ScanNetlink}
	sum, err := collect.Collect(ctx, copts, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return fmt.Errorf("ingest %s: %w", pcap, err)
	}
	t4 := time.Now()
	rounds, err := readRounds(ctx, dbPath)
	if err != nil {
		return err
	}
	t5 := time.Now()
	cut, err := pcaptl.ReadRounds(ctx, pcap, time.Minute, tl.Local)
	if err != nil {
		return err
	}
	t6 := time.Now()
	tm = timings{load: t1.Sub(t0), build: t2.Sub(t1), write: t3.Sub(t2), ingest: t4.Sub(t3), read: t5.Sub(t4), cut: t6.Sub(t5)}
	if err := aligned(tl, rounds, cut); err != nil {
		return err
	}
	ds := detectors(cut, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	results, err := evaluate(tl, rounds, ds)
	if err != nil {
		return err
	}
	if err := describe(out, lib, tl, pcap, truth, dbPath, sum, tm); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nseed %d: %d training rounds, %d test rounds, %d events; grace %d rounds after each\n\n",
		tl.Seed, tl.Train, tl.Minutes-tl.Train, len(tl.Events), quality.Grace)
	if err := quality.Print(out, results); err != nil {
		return err
	}
	for _, d := range ds {
		if b, ok := d.d.(*baseline); ok {
			if r, ok := b.rule.(pcaptl.RatioRule); ok {
				fmt.Fprintf(out, "\n%s trained: distinct destination over source ports up to %.3g, SYN share up to %.3g; flags above %.3g or %.3g\n",
					d.name, r.MaxPortRatio, r.MaxSYNShare, pcaptl.RatioFactor*r.MaxPortRatio, pcaptl.RatioFactor*r.MaxSYNShare)
			}
		}
	}
	if o.list {
		for _, r := range results {
			fmt.Fprintln(out)
			if err := quality.PrintEvents(out, r); err != nil {
				return err
			}
		}
		if pw, ok := ds[0].d.(*quality.Portwatch); ok {
			printFalseAlarms(out, tl, pw.Scored())
		}
	}
	return nil
}

// printFalseAlarms lists the test rounds portwatch flagged outside the
// events and their grace rounds, with what fired (findings, and cells
// past their limit): what a floor or a statistic must be checked against.
func printFalseAlarms(out io.Writer, tl *pcaptl.Timeline, scored []pwdetector.Scored) {
	inEvent := make([]bool, len(scored))
	for _, ev := range tl.Events {
		for i := max(0, ev.Minute-tl.Train); i < min(len(scored), ev.Minute-tl.Train+ev.Rounds+quality.Grace); i++ {
			inEvent[i] = true
		}
	}
	fmt.Fprintf(out, "\nportwatch: false alarms\n")
	for i, s := range scored {
		if !s.Anomalous || inEvent[i] {
			continue
		}
		fmt.Fprintf(out, "minute %d score %.3g:", tl.Train+i, s.Score)
		for _, f := range s.Traffic {
			fmt.Fprintf(out, " [%s %.4g > %.4g: %s]", f.Stat, f.Value, f.Limit, f.Text)
		}
		// Only the cells past their limit are causes; a capture model's
		// never are (it is judged on the traffic statistics).
		named := 0
		for _, p := range s.Ports {
			if p.Over && named < 3 {
				fmt.Fprintf(out, " %d/%s %s %s %s %.3g", p.Port, p.Protocol, p.State, p.Channel, p.Change, p.Error)
				named++
			}
		}
		fmt.Fprintln(out)
	}
}

// removeOld removes a database an earlier run left in the output directory:
// collect would skip the timeline as ingested already.
func removeOld(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove old database: %w", err)
		}
	}
	return nil
}

// readRounds reads the capture rounds collect stored.
func readRounds(ctx context.Context, path string) ([]store.Round, error) {
	db, err := store.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.Rounds(ctx, store.RoundQuery{Captured: true, Traffic: true})
}

// aligned checks that collect's rounds, the baselines' and the timeline's
// minutes are the same: round i starts at minute i.
func aligned(tl *pcaptl.Timeline, rounds []store.Round, cut []pcaptl.Round) error {
	if len(rounds) != tl.Minutes || len(cut) != tl.Minutes {
		return fmt.Errorf("rounds: collect stored %d, the baselines cut %d, the timeline has %d minutes", len(rounds), len(cut), tl.Minutes)
	}
	for i := range rounds {
		if want := tl.MinuteStart(i); !rounds[i].Start.Equal(want) || !cut[i].Start.Equal(want) {
			return fmt.Errorf("round %d: collect's starts at %v, the baselines' at %v, minute %d at %v", i, rounds[i].Start, cut[i].Start, i, want)
		}
	}
	return nil
}

// detector is one detector under test, by name.
type detector struct {
	name string
	d    quality.Detector
}

// detectors are the detectors compared, on the timeline's rounds as the
// store reads them: portwatch with the model a database of capture rounds
// gets (the traffic channels), replayed as cron runs it, and the baselines.
func detectors(cut []pcaptl.Round, log *slog.Logger) []detector {
	cfg := pwdetector.DefaultConfig("")
	cfg.Channels = features.CaptureChannels()
	return []detector{
		{"portwatch", quality.NewPortwatch(cfg, log)},
		{"ratio", newBaseline(cut, func(train []pcaptl.Round) rule { return pcaptl.TrainRatio(train) })},
		{"zeek-scan", newBaseline(cut, func([]pcaptl.Round) rule { return pcaptl.ZeekRule{} })},
	}
}

// evaluate trains each detector on the training rounds, scores the test
// rounds and measures the verdicts against the ground truth.
func evaluate(tl *pcaptl.Timeline, rounds []store.Round, ds []detector) ([]quality.Result, error) {
	events := make([]scenario.Event, len(tl.Events))
	for i, ev := range tl.Events {
		events[i] = scenario.Event{Kind: scenario.Kind(ev.Kind), Start: ev.Minute - tl.Train, End: ev.Minute - tl.Train + ev.Rounds, Detail: ev.Source}
	}
	train, test := rounds[:tl.Train], rounds[tl.Train:]
	var results []quality.Result
	for _, d := range ds {
		t0 := time.Now()
		if err := d.d.Train(train); err != nil {
			return nil, fmt.Errorf("train %s: %w", d.name, err)
		}
		t1 := time.Now()
		verdicts, err := d.d.Score(test)
		if err != nil {
			return nil, fmt.Errorf("score with %s: %w", d.name, err)
		}
		t2 := time.Now()
		res, err := quality.Evaluate(events, nil, len(test), verdicts)
		if err != nil {
			return nil, fmt.Errorf("evaluate %s: %w", d.name, err)
		}
		res.Detector, res.Train, res.Score = d.name, t1.Sub(t0), t2.Sub(t1)
		results = append(results, res)
	}
	return results, nil
}

// rule is a baseline fitted to training rounds.
type rule interface {
	Anomalous(*pcaptl.Round) bool
	Score(*pcaptl.Round) float64
}

var (
	_ rule = pcaptl.RatioRule{}
	_ rule = pcaptl.ZeekRule{}
)

// baseline runs a rule on the rounds cut from the timeline's pcap, found
// for each store round by its start.
type baseline struct {
	byStart map[int64]*pcaptl.Round
	fit     func(train []pcaptl.Round) rule
	rule    rule
}

var _ quality.Detector = (*baseline)(nil)

func newBaseline(cut []pcaptl.Round, fit func([]pcaptl.Round) rule) *baseline {
	b := &baseline{byStart: make(map[int64]*pcaptl.Round, len(cut)), fit: fit}
	for i := range cut {
		b.byStart[cut[i].Start.UnixNano()] = &cut[i]
	}
	return b
}

func (b *baseline) lookup(rounds []store.Round) ([]pcaptl.Round, error) {
	out := make([]pcaptl.Round, len(rounds))
	for i, r := range rounds {
		c, ok := b.byStart[r.Start.UnixNano()]
		if !ok {
			return nil, fmt.Errorf("round %d at %v: no such round in the pcap", r.ID, r.Start)
		}
		out[i] = *c
	}
	return out, nil
}

func (b *baseline) Train(rounds []store.Round) error {
	train, err := b.lookup(rounds)
	if err != nil {
		return err
	}
	b.rule = b.fit(train)
	return nil
}

func (b *baseline) Score(rounds []store.Round) ([]quality.Verdict, error) {
	if b.rule == nil {
		return nil, errors.New("score before training")
	}
	test, err := b.lookup(rounds)
	if err != nil {
		return nil, err
	}
	out := make([]quality.Verdict, len(test))
	for i := range test {
		out[i] = quality.Verdict{Round: i, Anomalous: b.rule.Anomalous(&test[i]), Score: b.rule.Score(&test[i])}
	}
	return out, nil
}

// describe prints what the timeline holds and how long each step took.
func describe(out io.Writer, lib *pcaptl.Library, tl *pcaptl.Timeline, pcap, truth, db string, sum collect.Summary, tm timings) error {
	size := func(path string) float64 {
		st, err := os.Stat(path)
		if err != nil {
			return 0
		}
		return float64(st.Size()) / (1 << 20)
	}
	pm := slices.Clone(tl.PerMinute)
	slices.Sort(pm)
	q := func(f float64) int { return pm[min(len(pm)-1, int(f*float64(len(pm))))] }
	bg, ls := tl.Background, lib.Stats
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "timeline\t%s, %d minutes from %s (%d training), local %v\n", pcap, tl.Minutes, tl.Start.Format(time.RFC3339), tl.Train, tl.Local)
	fmt.Fprintf(tw, "frames\t%d in %.1f MiB; per minute min %d, median %d, p90 %d, p99 %d, max %d\n", tl.Frames(), size(pcap), pm[0], q(0.5), q(0.9), q(0.99), pm[len(pm)-1])
	fmt.Fprintf(tw, "background\t%d frames kept (%d in event sources and %d duplicates left out), %d chunks in %d pieces, %d held out of training\n",
		ls.BenignFrames, ls.Excluded, ls.Duplicates, ls.Chunks, ls.Pieces, bg.Novel)
	fmt.Fprintf(tw, "drawn\ttraining %d chunks; test %d chunks, %d of them held out, in %d of %d test minutes\n",
		bg.TrainChunks, bg.TestChunks, bg.NovelInTest, bg.NovelMinutes, tl.Minutes-tl.Train)
	fmt.Fprintf(tw, "truth\t%s, %d events\n", truth, len(tl.Events))
	fmt.Fprintf(tw, "database\t%s, %.1f MiB: %d rounds, %d frames (%d malformed)\n", db, size(db), sum.Rounds, sum.Counts.Frames, sum.Counts.Malformed)
	fmt.Fprintf(tw, "time\tload %v, build %v, write %v, ingest %v, read rounds %v, cut rounds %v; generate+ingest %v\n",
		tm.load.Round(time.Millisecond), tm.build.Round(time.Millisecond), tm.write.Round(time.Millisecond), tm.ingest.Round(time.Millisecond),
		tm.read.Round(time.Millisecond), tm.cut.Round(time.Millisecond), (tm.load + tm.build + tm.write + tm.ingest).Round(time.Millisecond))
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print timeline: %w", err)
	}
	return nil
}
