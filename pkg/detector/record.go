package detector

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"portwatch/pkg/store"
)

// lastScored returns the highest round id a batch has scored, 0 if none:
// the cron path scores the complete scanned rounds after it, so a round is
// never scored twice however often detect runs. Capture rounds are never in
// a batch and never selected, so they do not hold it back.
func lastScored(ctx context.Context, db *sql.DB) (int64, error) {
	var id sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT max(round_id) FROM batches_rounds").Scan(&id); err != nil {
		return 0, fmt.Errorf("find last scored round: %w", err)
	}
	return id.Int64, nil
}

// countComplete counts complete rounds with an occupancy scan, the rounds a
// first training can use.
func countComplete(ctx context.Context, db *sql.DB) (int, error) {
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM rounds WHERE status = 'complete' AND scans > 0").Scan(&n); err != nil {
		return 0, fmt.Errorf("count complete rounds: %w", err)
	}
	return n, nil
}

// detail is the anomalies.detail JSON.
type detail struct {
	Ports []Port `json:"ports"`
}

// record stores one run in one transaction: a batch, every scored round
// with its score, the rounds trained on with a NULL score, and an anomaly
// per anomalous round. The anomalies' unique round index makes a repeated
// round a no-op, never a duplicate.
func record(ctx context.Context, db *sql.DB, at time.Time, alg, model string, rs []Scored, trainedOn []int64) error {
	if len(rs)+len(trainedOn) == 0 {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record batch: %w", err)
	}
	defer tx.Rollback()
	now := store.FormatTime(at)
	res, err := tx.ExecContext(ctx, "INSERT INTO batches (timestamp, alg) VALUES (?, ?)", now, alg)
	if err != nil {
		return fmt.Errorf("record batch: %w", err)
	}
	batch, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("record batch: %w", err)
	}
	scoreStmt, err := tx.PrepareContext(ctx, "INSERT INTO batches_rounds (batch_id, round_id, score) VALUES (?, ?, ?)")
	if err != nil {
		return fmt.Errorf("record scores: %w", err)
	}
	defer scoreStmt.Close()
	anomStmt, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO anomalies
(round_id, round_start, detected_at, score, threshold, model, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("record anomalies: %w", err)
	}
	defer anomStmt.Close()
	for _, id := range trainedOn {
		if _, err := scoreStmt.ExecContext(ctx, batch, id, nil); err != nil {
			return fmt.Errorf("record training round %d: %w", id, err)
		}
	}
	for _, r := range rs {
		if _, err := scoreStmt.ExecContext(ctx, batch, r.RoundID, r.Score); err != nil {
			return fmt.Errorf("record score of round %d: %w", r.RoundID, err)
		}
		if !r.Anomalous {
			continue
		}
		d, err := json.Marshal(detail{Ports: r.Ports})
		if err != nil {
			return fmt.Errorf("record anomaly of round %d: %w", r.RoundID, err)
		}
		if _, err := anomStmt.ExecContext(ctx, r.RoundID, store.FormatTime(r.Start), now,
			r.Score, r.Threshold, model, string(d)); err != nil {
			return fmt.Errorf("record anomaly of round %d: %w", r.RoundID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record batch: %w", err)
	}
	return nil
}

// newestFrom returns the round id after which the newest n complete,
// scanned rounds starting in [from, to) begin (zero times do not restrict), for
// features.Query.AfterID.
func newestFrom(ctx context.Context, db *sql.DB, from, to time.Time, n int) (int64, error) {
	hi := "9999"
	if !to.IsZero() {
		hi = store.FormatTime(to)
	}
	lo := ""
	if !from.IsZero() {
		lo = store.FormatTime(from)
	}
	var first sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT min(id) FROM (SELECT id FROM rounds
WHERE status = 'complete' AND scans > 0 AND start_time >= ? AND start_time < ? ORDER BY id DESC LIMIT ?)`, lo, hi, n).Scan(&first)
	if err != nil {
		return 0, fmt.Errorf("find training rounds: %w", err)
	}
	return max(first.Int64-1, 0), nil
}
