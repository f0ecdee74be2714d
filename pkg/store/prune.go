package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// PruneChunk bounds every delete transaction of a Pruner; a few thousand
// index-maintained row deletes take milliseconds.
const PruneChunk = 5000

// roundsPerChunk bounds how many rounds one pass of deletes names.
const roundsPerChunk = 50

// Pruner deletes old data without getting in the way of a concurrent
// writer: every delete runs in its own short transaction of at most
// PruneChunk rows. A dry Pruner runs everything inside one transaction that
// Close rolls back, so its counts are real and the database is unchanged.
// It is not safe for concurrent use.
type Pruner struct {
	db  *sql.DB
	dry *sql.Tx // the one transaction of a dry run; nil for a real run
}

// Deleted counts the rows a Pruner's deletes removed.
type Deleted struct {
	Rounds, RoundsPorts, Packets, Anomalies, Batches int64
	// PacketRounds rounds kept lost their packet rows (OldPackets of them).
	PacketRounds, OldPackets int64
}

// NewPruner starts a Pruner; Close it.
func (d *DB) NewPruner(ctx context.Context, dry bool) (*Pruner, error) {
	p := &Pruner{db: d.db}
	if dry {
		tx, err := d.db.BeginTx(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("begin dry run: %w", err)
		}
		p.dry = tx
	}
	return p, nil
}

// Close ends the Pruner, rolling a dry run back.
func (p *Pruner) Close() error {
	if p.dry == nil {
		return nil
	}
	if err := p.dry.Rollback(); err != nil {
		return fmt.Errorf("roll back dry run: %w", err)
	}
	return nil
}

// execer is a *sql.Tx or the *sql.DB.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// step runs f in a transaction of its own, or in the dry run's.
func (p *Pruner) step(ctx context.Context, f func(execer) error) error {
	if p.dry != nil {
		return f(p.dry)
	}
	began := time.Now()
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	// A writer held off by a step waits in SQLite's busy handler, which
	// looks at the lock again after sleeps growing to 100 ms; a cleanup that
	// takes the lock back at once would find it free first nearly every
	// time and starve the writer for the whole cleanup. A pause as long as
	// the step (at most stepPause) gives the writer half the time.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(min(time.Since(began), stepPause)):
	}
	return nil
}

// stepPause bounds the pause after a step (see step).
const stepPause = 50 * time.Millisecond

// q is where reads go: the dry run's transaction sees its own deletes.
func (p *Pruner) q() execer {
	if p.dry != nil {
		return p.dry
	}
	return p.db
}

func (p *Pruner) ids(ctx context.Context, query string, args ...any) ([]int64, error) {
	rows, err := p.q().QueryContext(ctx, query, args...)
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

// StaleRounds returns, by id, the rounds that started before cut, apart
// from running rounds and rounds an anomaly points at, and apart from
// rounds no batch has scored yet unless they started before unscoredCut.
func (p *Pruner) StaleRounds(ctx context.Context, cut, unscoredCut time.Time) ([]int64, error) {
	ids, err := p.ids(ctx, `
SELECT id FROM rounds r
WHERE status <> ?1 AND start_time < ?2
  AND (start_time < ?3 OR EXISTS (SELECT 1 FROM batches_rounds br WHERE br.round_id = r.id))
  AND NOT EXISTS (SELECT 1 FROM anomalies a WHERE a.round_id = r.id)
ORDER BY id`, string(Running), FormatTime(cut), FormatTime(unscoredCut))
	if err != nil {
		return nil, fmt.Errorf("find stale rounds: %w", err)
	}
	return ids, nil
}

// OldestRound returns the id of the round that started first, apart from
// running ones; false when there is none.
func (p *Pruner) OldestRound(ctx context.Context) (int64, bool, error) {
	ids, err := p.ids(ctx, `SELECT id FROM rounds WHERE status <> ? ORDER BY start_time, id LIMIT 1`, string(Running))
	if err != nil {
		return 0, false, fmt.Errorf("find oldest rounds: %w", err)
	}
	if len(ids) == 0 {
		return 0, false, nil
	}
	return ids[0], true, nil
}

// deleteChunked repeats a bounded delete, each in its own step, until it
// deletes fewer than PruneChunk rows, and adds the count to *n.
func (p *Pruner) deleteChunked(ctx context.Context, what string, n *int64, query string, args ...any) error {
	for {
		var got int64
		err := p.step(ctx, func(tx execer) error {
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
		if got < PruneChunk {
			return nil
		}
	}
}

// DeleteAnomalies deletes the anomalies detected before cut.
func (p *Pruner) DeleteAnomalies(ctx context.Context, cut time.Time, del *Deleted) error {
	return p.deleteChunked(ctx, "anomalies", &del.Anomalies, fmt.Sprintf(
		`DELETE FROM anomalies WHERE id IN (SELECT id FROM anomalies WHERE detected_at < ? LIMIT %d)`, PruneChunk),
		FormatTime(cut))
}

// DeleteRounds deletes rounds and everything that hangs off them, children
// first and in bounded chunks, so no transaction grows with a round's size.
// An anomaly pointing at one of them must be detached first (DetachAnomalies).
func (p *Pruner) DeleteRounds(ctx context.Context, ids []int64, del *Deleted) error {
	for len(ids) > 0 {
		n := min(len(ids), roundsPerChunk)
		list := idList(ids[:n])
		ids = ids[n:]
		if err := p.deleteChildren(ctx, list, "packets", &del.Packets); err != nil {
			return err
		}
		if err := p.deleteChildren(ctx, list, "rounds_ports", &del.RoundsPorts); err != nil {
			return err
		}
		// The traffic summary tables go by ON DELETE CASCADE: a few rows a round.
		err := p.step(ctx, func(tx execer) error {
			if _, err := tx.ExecContext(ctx, `DELETE FROM batches_rounds WHERE round_id IN (`+list+`)`); err != nil {
				return fmt.Errorf("delete batches_rounds: %w", err)
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM rounds WHERE id IN (`+list+`)`)
			if err != nil {
				return fmt.Errorf("delete rounds: %w", err)
			}
			got, _ := res.RowsAffected()
			del.Rounds += got
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// deleteChildren deletes the rows of table belonging to the rounds in list
// (ids, comma-separated), in chunks.
func (p *Pruner) deleteChildren(ctx context.Context, list, table string, n *int64) error {
	return p.deleteChunked(ctx, table, n, fmt.Sprintf(
		`DELETE FROM %[1]s WHERE id IN (SELECT id FROM %[1]s WHERE round_id IN (%[2]s) LIMIT %[3]d)`,
		table, list, PruneChunk))
}

// PacketRounds returns, by id, the rounds that started before cut and still
// have packet rows, apart from running rounds and rounds an anomaly points
// at (their packets are the anomaly's evidence).
func (p *Pruner) PacketRounds(ctx context.Context, cut time.Time) ([]int64, error) {
	ids, err := p.ids(ctx, `
SELECT id FROM rounds r
WHERE status <> ?1 AND start_time < ?2
  AND EXISTS (SELECT 1 FROM packets p WHERE p.round_id = r.id)
  AND NOT EXISTS (SELECT 1 FROM anomalies a WHERE a.round_id = r.id)
ORDER BY id`, string(Running), FormatTime(cut))
	if err != nil {
		return nil, fmt.Errorf("find rounds with old packets: %w", err)
	}
	return ids, nil
}

// DeletePackets deletes the packet rows of rounds, keeping the rounds, their
// ports and their traffic summaries.
func (p *Pruner) DeletePackets(ctx context.Context, ids []int64, del *Deleted) error {
	for len(ids) > 0 {
		n := min(len(ids), roundsPerChunk)
		if err := p.deleteChildren(ctx, idList(ids[:n]), "packets", &del.OldPackets); err != nil {
			return err
		}
		del.PacketRounds += int64(n)
		ids = ids[n:]
	}
	return nil
}

// DetachAnomalies keeps the anomalies of rounds about to be deleted,
// pointing at no round.
func (p *Pruner) DetachAnomalies(ctx context.Context, ids []int64) error {
	if err := p.step(ctx, func(tx execer) error {
		_, err := tx.ExecContext(ctx, `UPDATE anomalies SET round_id = NULL WHERE round_id IN (`+idList(ids)+`)`)
		return err
	}); err != nil {
		return fmt.Errorf("detach anomalies: %w", err)
	}
	return nil
}

// DeleteEmptyBatches deletes the batches left with no rounds.
func (p *Pruner) DeleteEmptyBatches(ctx context.Context, del *Deleted) error {
	return p.step(ctx, func(tx execer) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM batches WHERE NOT EXISTS (SELECT 1 FROM batches_rounds br WHERE br.batch_id = batches.id)`)
		if err != nil {
			return fmt.Errorf("delete empty batches: %w", err)
		}
		n, _ := res.RowsAffected()
		del.Batches += n
		return nil
	})
}

// LiveBytes is the size of the pages holding data, as the Pruner sees them.
func (p *Pruner) LiveBytes(ctx context.Context) (int64, error) {
	var pages, free, size int64
	q := p.q()
	for _, pr := range []struct {
		pragma string
		v      *int64
	}{{"page_count", &pages}, {"freelist_count", &free}, {"page_size", &size}} {
		if err := q.QueryRowContext(ctx, "PRAGMA "+pr.pragma).Scan(pr.v); err != nil {
			return 0, fmt.Errorf("read %s: %w", pr.pragma, err)
		}
	}
	return (pages - free) * size, nil
}

// vacuumBytes is how much free space one incremental vacuum step returns:
// short enough not to block a writer long.
const vacuumBytes = 8 << 20

// Vacuum hands free pages back to the file system, in steps a concurrent
// writer can interleave with, and truncates the WAL. It is not for a dry
// run: it commits each step.
func (p *Pruner) Vacuum(ctx context.Context) error {
	if p.dry != nil {
		return fmt.Errorf("vacuum: not in a dry run")
	}
	var mode int
	if err := p.db.QueryRowContext(ctx, "PRAGMA auto_vacuum").Scan(&mode); err != nil {
		return fmt.Errorf("read auto_vacuum: %w", err)
	}
	if mode != 2 {
		// A file made without incremental auto-vacuum needs one full VACUUM
		// to switch; it locks the database for its duration, once.
		if _, err := p.db.ExecContext(ctx, "PRAGMA auto_vacuum = INCREMENTAL"); err != nil {
			return fmt.Errorf("set auto_vacuum: %w", err)
		}
		if _, err := p.db.ExecContext(ctx, "VACUUM"); err != nil {
			return fmt.Errorf("vacuum: %w", err)
		}
	}
	var pageSize int64
	if err := p.db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		return fmt.Errorf("read page_size: %w", err)
	}
	// Files made before pageSize keep 4 KiB pages: a step is as many bytes.
	stepPages := max(vacuumBytes/pageSize, 1)
	for {
		var free int64
		if err := p.db.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&free); err != nil {
			return fmt.Errorf("read freelist_count: %w", err)
		}
		if free == 0 {
			break
		}
		// incremental_vacuum returns a row per page; drain it in a transaction.
		if err := p.step(ctx, func(tx execer) error {
			rows, err := tx.QueryContext(ctx, fmt.Sprintf("PRAGMA incremental_vacuum(%d)", stepPages))
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
	// A PASSIVE checkpoint first copies the WAL's frames while writers go
	// on; TRUNCATE, which holds writers off while it copies, then has only
	// the frames written since. A reader still on an old snapshot may keep
	// the WAL from being truncated: the pragma then reports busy in its row,
	// not as an error, and the next checkpoint finishes the job.
	if _, err := p.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if _, err := p.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
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
