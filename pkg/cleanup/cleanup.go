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
//  3. With MaxSize, the oldest remaining rounds (apart from running ones)
//     go until the data fits, whatever rule 2 would keep.
//  4. Batches left with no rounds are deleted.
//  5. The freed pages are returned with incremental vacuum and the WAL is
//     truncated, so the files really shrink.
//
// Every delete runs in its own short transaction of at most chunkRows rows,
// so a concurrent writer waits for milliseconds, never for the whole run. A
// dry run does the same work inside one transaction and rolls it back: the
// numbers are the real ones, the database is unchanged.
package cleanup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"portwatch/pkg/store"
)

// Options are what cleanup keeps.
type Options struct {
	Keep          time.Duration // rounds younger than this stay
	KeepAnomalies time.Duration // anomalies younger than this stay, with their rounds
	MaxSize       int64         // bytes of data to stay under after the age rules; 0: no limit
	DryRun        bool          // report what would go, change nothing
	Now           time.Time     // the reference time (time.Now() when zero)
}

// Report says what a run deleted (or, dry, would delete).
type Report struct {
	DryRun                                  bool
	Rounds, RoundsPorts, Packets, Anomalies int64
	Batches                                 int64
	BytesBefore, BytesAfter                 int64 // database plus WAL on disk; after = before in a dry run
	BytesFreed                              int64 // on disk, or for a dry run the data pages the deletes would free
}

// String is the one summary line a run prints.
func (r Report) String() string {
	verb, freed := "deleted", "freed"
	if r.DryRun {
		verb, freed = "would delete", "would free"
	}
	return fmt.Sprintf("cleanup: %s %d rounds (%d rounds_ports, %d packets), %d anomalies, %d batches; %s %s (%s -> %s)",
		verb, r.Rounds, r.RoundsPorts, r.Packets, r.Anomalies, r.Batches,
		freed, human(r.BytesFreed), human(r.BytesBefore), human(r.BytesBefore-r.BytesFreed))
}

// chunkRows bounds every delete transaction; a few thousand index-maintained
// row deletes take milliseconds.
const chunkRows = 5000

// roundsPerChunk bounds how many rounds one pass of deletes names.
const roundsPerChunk = 50

// execer is a *sql.Tx or the *sql.DB.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// cleaner runs the rules against one database.
type cleaner struct {
	db  *sql.DB
	dry *sql.Tx // the one transaction of a dry run; nil for a real run
	rep Report
}

// Run applies the rules to the database at path (open as db) and reports.
func Run(ctx context.Context, db *store.DB, path string, opt Options) (Report, error) {
	if opt.Keep <= 0 || opt.KeepAnomalies <= 0 {
		return Report{}, fmt.Errorf("cleanup: --keep and --keep-anomalies must be positive durations")
	}
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	c := &cleaner{db: db.SQL(), rep: Report{DryRun: opt.DryRun}}
	before, err := diskBytes(path)
	if err != nil {
		return Report{}, err
	}
	c.rep.BytesBefore = before
	if opt.DryRun {
		tx, err := c.db.BeginTx(ctx, nil)
		if err != nil {
			return Report{}, fmt.Errorf("begin dry run: %w", err)
		}
		defer tx.Rollback()
		c.dry = tx
	}
	livePagesBefore, err := c.liveBytes(ctx)
	if err != nil {
		return Report{}, err
	}

	cut := store.FormatTime(now.Add(-opt.Keep))
	if err := c.deleteAnomalies(ctx, store.FormatTime(now.Add(-opt.KeepAnomalies))); err != nil {
		return c.rep, err
	}
	stale, err := c.ids(ctx, `
SELECT id FROM rounds r
WHERE status <> 'running' AND start_time < ?1
  AND (start_time < ?2 OR EXISTS (SELECT 1 FROM batches_rounds br WHERE br.round_id = r.id))
  AND NOT EXISTS (SELECT 1 FROM anomalies a WHERE a.round_id = r.id)
ORDER BY id`, cut, store.FormatTime(now.Add(-2*opt.Keep)))
	if err != nil {
		return c.rep, fmt.Errorf("find stale rounds: %w", err)
	}
	if err := c.deleteRounds(ctx, stale); err != nil {
		return c.rep, err
	}
	if opt.MaxSize > 0 {
		if err := c.shrinkTo(ctx, opt.MaxSize); err != nil {
			return c.rep, err
		}
	}
	if err := c.step(ctx, func(tx execer) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM batches WHERE NOT EXISTS (SELECT 1 FROM batches_rounds br WHERE br.batch_id = batches.id)`)
		if err != nil {
			return fmt.Errorf("delete empty batches: %w", err)
		}
		n, _ := res.RowsAffected()
		c.rep.Batches += n
		return nil
	}); err != nil {
		return c.rep, err
	}

	if opt.DryRun {
		after, err := c.liveBytes(ctx)
		if err != nil {
			return c.rep, err
		}
		c.rep.BytesAfter = before
		c.rep.BytesFreed = max(livePagesBefore-after, 0)
		return c.rep, nil
	}
	if err := c.vacuum(ctx); err != nil {
		return c.rep, err
	}
	if c.rep.BytesAfter, err = diskBytes(path); err != nil {
		return c.rep, err
	}
	c.rep.BytesFreed = c.rep.BytesBefore - c.rep.BytesAfter
	return c.rep, nil
}

// step runs f in a transaction of its own, or in the dry run's.
func (c *cleaner) step(ctx context.Context, f func(execer) error) error {
	if c.dry != nil {
		return f(c.dry)
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// q is where reads go: the dry run's transaction sees its own deletes.
func (c *cleaner) q() execer {
	if c.dry != nil {
		return c.dry
	}
	return c.db
}

func (c *cleaner) ids(ctx context.Context, query string, args ...any) ([]int64, error) {
	rows, err := c.q().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// deleteChunked repeats a bounded delete, each in its own step, until it
// deletes fewer than chunkRows rows, and adds the count to *n.
func (c *cleaner) deleteChunked(ctx context.Context, what string, n *int64, query string, args ...any) error {
	for {
		var got int64
		err := c.step(ctx, func(tx execer) error {
			res, err := tx.ExecContext(ctx, query, args...)
			if err != nil {
				return fmt.Errorf("delete %s: %w", what, err)
			}
			got, _ = res.RowsAffected()
			return nil
		})
		if err != nil {
			return err
		}
		*n += got
		if got < chunkRows {
			return nil
		}
	}
}

func (c *cleaner) deleteAnomalies(ctx context.Context, cut string) error {
	return c.deleteChunked(ctx, "anomalies", &c.rep.Anomalies, fmt.Sprintf(
		`DELETE FROM anomalies WHERE id IN (SELECT id FROM anomalies WHERE detected_at < ? LIMIT %d)`, chunkRows), cut)
}

// deleteRounds deletes rounds and everything that hangs off them, children
// first and in bounded chunks, so no transaction grows with a round's size.
func (c *cleaner) deleteRounds(ctx context.Context, ids []int64) error {
	for len(ids) > 0 {
		n := min(len(ids), roundsPerChunk)
		list := idList(ids[:n])
		ids = ids[n:]
		for _, child := range []struct {
			table string
			count *int64
		}{{"packets", &c.rep.Packets}, {"rounds_ports", &c.rep.RoundsPorts}} {
			if err := c.deleteChunked(ctx, child.table, child.count, fmt.Sprintf(
				`DELETE FROM %[1]s WHERE id IN (SELECT id FROM %[1]s WHERE round_id IN (%[2]s) LIMIT %[3]d)`,
				child.table, list, chunkRows)); err != nil {
				return err
			}
		}
		err := c.step(ctx, func(tx execer) error {
			if _, err := tx.ExecContext(ctx, `DELETE FROM batches_rounds WHERE round_id IN (`+list+`)`); err != nil {
				return fmt.Errorf("delete batches_rounds: %w", err)
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM rounds WHERE id IN (`+list+`)`)
			if err != nil {
				return fmt.Errorf("delete rounds: %w", err)
			}
			got, _ := res.RowsAffected()
			c.rep.Rounds += got
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// shrinkTo deletes the oldest rounds, one at a time, until the live data
// (pages in use, not the file, which only shrinks at the vacuum) fits.
func (c *cleaner) shrinkTo(ctx context.Context, maxSize int64) error {
	for {
		live, err := c.liveBytes(ctx)
		if err != nil {
			return err
		}
		if live <= maxSize {
			return nil
		}
		oldest, err := c.ids(ctx, `SELECT id FROM rounds WHERE status <> 'running' ORDER BY start_time, id LIMIT 1`)
		if err != nil {
			return fmt.Errorf("find oldest rounds: %w", err)
		}
		if len(oldest) == 0 {
			return nil // nothing left to delete: the schema and ports table alone are larger
		}
		if err := c.step(ctx, func(tx execer) error {
			_, err := tx.ExecContext(ctx, `UPDATE anomalies SET round_id = NULL WHERE round_id IN (`+idList(oldest)+`)`)
			return err
		}); err != nil {
			return fmt.Errorf("detach anomalies: %w", err)
		}
		if err := c.deleteRounds(ctx, oldest); err != nil {
			return err
		}
	}
}

// liveBytes is the size of the pages holding data.
func (c *cleaner) liveBytes(ctx context.Context) (int64, error) {
	var pages, free, size int64
	q := c.q()
	for _, p := range []struct {
		pragma string
		v      *int64
	}{{"page_count", &pages}, {"freelist_count", &free}, {"page_size", &size}} {
		if err := q.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(p.v); err != nil {
			return 0, fmt.Errorf("read %s: %w", p.pragma, err)
		}
	}
	return (pages - free) * size, nil
}

// vacuumPages is how many free pages one incremental vacuum step returns
// (8 MiB at the default page size): short enough not to block a writer long.
const vacuumPages = 2048

// vacuum hands free pages back to the file system and truncates the WAL.
func (c *cleaner) vacuum(ctx context.Context) error {
	var mode int
	if err := c.db.QueryRowContext(ctx, "PRAGMA auto_vacuum").Scan(&mode); err != nil {
		return fmt.Errorf("read auto_vacuum: %w", err)
	}
	if mode != 2 {
		// A file made without incremental auto-vacuum needs one full VACUUM
		// to switch; it locks the database for its duration, once.
		if _, err := c.db.ExecContext(ctx, "PRAGMA auto_vacuum = INCREMENTAL"); err != nil {
			return fmt.Errorf("set auto_vacuum: %w", err)
		}
		if _, err := c.db.ExecContext(ctx, "VACUUM"); err != nil {
			return fmt.Errorf("vacuum: %w", err)
		}
	}
	for {
		var free int64
		if err := c.db.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&free); err != nil {
			return fmt.Errorf("read freelist_count: %w", err)
		}
		if free == 0 {
			break
		}
		// incremental_vacuum returns a row per page; drain it in a transaction.
		if err := c.step(ctx, func(tx execer) error {
			rows, err := tx.QueryContext(ctx, fmt.Sprintf("PRAGMA incremental_vacuum(%d)", vacuumPages))
			if err != nil {
				return err
			}
			for rows.Next() {
			}
			rows.Close()
			return rows.Err()
		}); err != nil {
			return fmt.Errorf("incremental vacuum: %w", err)
		}
	}
	// A reader still on an old snapshot may keep the WAL from being
	// truncated: the pragma then reports busy in its row, not as an error,
	// and the next checkpoint finishes the job.
	if _, err := c.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
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

func idList(ids []int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, id)
	}
	return b.String()
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
