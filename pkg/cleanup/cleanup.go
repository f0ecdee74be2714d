// Package cleanup deletes stale portwatch data and gives the space back to
// the file system, without getting in the way of a collect running at the
// same moment.
//
// The rules, in order:
//
//  1. Anomalies detected before now-KeepAnomalies are deleted.
//  2. Rounds that started before now-Keep are deleted with their
//     rounds_ports, packets and batches_rounds rows, except: a round detect
//     has not scored yet is kept until now-2·Keep; a round an anomaly still
//     points at is kept while the anomaly lives, so it stays readable; a
//     round still `running` is never touched (the next collect marks it
//     interrupted first). Rounds age by their start time, which for pcap
//     ingests is the capture's own time: keep old captures in a database of
//     their own.
//  3. With KeepPackets, the packet rows of rounds that started before
//     now-KeepPackets are deleted; the rounds, their ports and their
//     traffic summaries (what detection reads) stay until rule 2 takes
//     them. Rounds an anomaly points at keep their packets as evidence.
//  4. With MaxSize, the oldest remaining rounds (apart from running ones)
//     go until the data fits, whatever rule 2 would keep.
//  5. Batches left with no rounds are deleted.
//  6. The freed pages are returned with incremental vacuum and the WAL is
//     truncated, so the files really shrink.
//
// Every delete runs in its own short transaction of at most store.PruneChunk rows,
// so a concurrent writer waits for milliseconds, never for the whole run. A
// dry run does the same work inside one transaction and rolls it back: the
// numbers are the real ones, the database is unchanged.
//
// Run is the cleanup program: it checks the options, takes cleanup's own
// lock (collect and detect may run meanwhile), opens the database, cleans
// it (Clean) and prints the one summary line.
package cleanup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"portwatch/pkg/runerr"
	"portwatch/pkg/store"
)

// LockName names cleanup's run lock (store.TryLock).
const LockName = "cleanup"

// Options are the database and what cleanup keeps.
type Options struct {
	DB            string        // the database file; Run only
	Out           io.Writer     // Run prints the summary line here; nil: nowhere
	Keep          time.Duration // rounds younger than this stay
	KeepAnomalies time.Duration // anomalies younger than this stay, with their rounds
	KeepPackets   time.Duration // packet rows of rounds younger than this stay; 0: as long as their rounds
	MaxSize       int64         // bytes of data to stay under after the age rules; 0: no limit
	DryRun        bool          // report what would go, change nothing
	Now           time.Time     // the reference time (time.Now() when zero)
}

// Report says what a run deleted (or, dry, would delete).
type Report struct {
	DryRun bool
	store.Deleted
	BytesBefore, BytesAfter int64 // database plus WAL on disk; after = before in a dry run
	BytesFreed              int64 // on disk, or for a dry run the data pages the deletes would free
}

// String is the one summary line a run prints.
func (r Report) String() string {
	verb, freed := "deleted", "freed"
	if r.DryRun {
		verb, freed = "would delete", "would free"
	}
	packets := ""
	if r.PacketRounds > 0 {
		packets = fmt.Sprintf(", the packets of %d rounds kept (%d packets)", r.PacketRounds, r.OldPackets)
	}
	return fmt.Sprintf("cleanup: %s %d rounds (%d rounds_ports, %d packets)%s, %d anomalies, %d batches; %s %s (%s -> %s)",
		verb, r.Rounds, r.RoundsPorts, r.Packets, packets, r.Anomalies, r.Batches,
		freed, human(r.BytesFreed), human(r.BytesBefore), human(r.BytesBefore-r.BytesFreed))
}

// Run checks opt, locks and opens opt.DB, cleans it and prints the report
// to opt.Out. Bad options and a missing database are runerr.BadInput.
func Run(ctx context.Context, opt Options, log *slog.Logger) error {
	if err := opt.check(); err != nil {
		return err
	}
	// Cleaning a database that is not there would create an empty one.
	if _, err := os.Stat(opt.DB); errors.Is(err, os.ErrNotExist) {
		return runerr.BadInputf("database %s does not exist; pass the file collect writes", opt.DB)
	}
	lock, err := store.TryLock(opt.DB, LockName)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	db, err := store.Open(ctx, opt.DB, store.WithLogger(log))
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := Clean(ctx, db, opt)
	if err != nil {
		return fmt.Errorf("clean %s: %w", opt.DB, err)
	}
	if opt.Out != nil {
		fmt.Fprintln(opt.Out, rep)
	}
	log.Info("cleanup done", "db", opt.DB, "dry_run", rep.DryRun, "rounds", rep.Rounds,
		"rounds_ports", rep.RoundsPorts, "packets", rep.Packets, "anomalies", rep.Anomalies, "bytes_freed", rep.BytesFreed)
	return nil
}

// check refuses options that mean nothing, as bad input.
func (opt Options) check() error {
	switch {
	case opt.DB == "":
		return runerr.BadInputf("no database given")
	case opt.MaxSize < 0:
		return runerr.BadInputf("max size %d: want 0 (no limit) or more bytes", opt.MaxSize)
	}
	return opt.checkKeep()
}

func (opt Options) checkKeep() error {
	if opt.Keep <= 0 || opt.KeepAnomalies <= 0 {
		return runerr.BadInputf("keep %v, keep anomalies %v: both must be positive", opt.Keep, opt.KeepAnomalies)
	}
	if opt.KeepPackets < 0 {
		return runerr.BadInputf("keep packets %v: want 0 (as long as their rounds) or more", opt.KeepPackets)
	}
	return nil
}

// Clean applies the rules to db and reports. opt.DB is not used: db's own
// path is measured.
func Clean(ctx context.Context, db *store.DB, opt Options) (Report, error) {
	if err := opt.checkKeep(); err != nil {
		return Report{}, err
	}
	path := db.Path()
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	rep := Report{DryRun: opt.DryRun}
	before, err := diskBytes(path)
	if err != nil {
		return Report{}, err
	}
	rep.BytesBefore = before
	p, err := db.NewPruner(ctx, opt.DryRun)
	if err != nil {
		return Report{}, err
	}
	defer p.Close()
	liveBefore, err := p.LiveBytes(ctx)
	if err != nil {
		return Report{}, err
	}
	if err := prune(ctx, p, now, opt, &rep.Deleted); err != nil {
		return rep, err
	}
	if opt.DryRun {
		after, err := p.LiveBytes(ctx)
		if err != nil {
			return rep, err
		}
		rep.BytesAfter = before
		rep.BytesFreed = max(liveBefore-after, 0)
		return rep, nil
	}
	if err := p.Vacuum(ctx); err != nil {
		return rep, err
	}
	if rep.BytesAfter, err = diskBytes(path); err != nil {
		return rep, err
	}
	rep.BytesFreed = rep.BytesBefore - rep.BytesAfter
	return rep, nil
}

// prune applies rules 1 to 5, counting into del.
func prune(ctx context.Context, p *store.Pruner, now time.Time, opt Options, del *store.Deleted) error {
	if err := p.DeleteAnomalies(ctx, now.Add(-opt.KeepAnomalies), del); err != nil {
		return err
	}
	stale, err := p.StaleRounds(ctx, now.Add(-opt.Keep), now.Add(-2*opt.Keep))
	if err != nil {
		return err
	}
	if err := p.DeleteRounds(ctx, stale, del); err != nil {
		return err
	}
	if opt.KeepPackets > 0 {
		old, err := p.PacketRounds(ctx, now.Add(-opt.KeepPackets))
		if err != nil {
			return err
		}
		if err := p.DeletePackets(ctx, old, del); err != nil {
			return err
		}
	}
	if opt.MaxSize > 0 {
		if err := shrinkTo(ctx, p, opt.MaxSize, del); err != nil {
			return err
		}
	}
	return p.DeleteEmptyBatches(ctx, del)
}

// shrinkTo deletes the oldest rounds, one at a time, until the live data
// (pages in use, not the file, which only shrinks at the vacuum) fits.
func shrinkTo(ctx context.Context, p *store.Pruner, maxSize int64, del *store.Deleted) error {
	for {
		live, err := p.LiveBytes(ctx)
		if err != nil {
			return err
		}
		if live <= maxSize {
			return nil
		}
		oldest, ok, err := p.OldestRound(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return nil // nothing left to delete: the schema and ports table alone are larger
		}
		ids := []int64{oldest}
		if err := p.DetachAnomalies(ctx, ids); err != nil {
			return err
		}
		if err := p.DeleteRounds(ctx, ids, del); err != nil {
			return err
		}
	}
}

// diskBytes is the database file plus its WAL.
func diskBytes(path string) (int64, error) {
	var total int64
	for _, p := range []string{path, path + "-wal"} {
		st, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) && p != path {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("size of %s: %w", p, err)
		}
		total += st.Size()
	}
	return total, nil
}

func human(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f, suffix := float64(n), "KMGT"
	i := -1
	for (f >= unit || f <= -unit) && i < len(suffix)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, suffix[i])
}
