package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// LastScored returns the highest round id a batch has scored, 0 if none:
// the cron path scores the scorable rounds after it, so a round is never
// scored twice however often detect runs. Rounds a model cannot score (capture
// rounds for an occupancy model) are never in its batches, so they do not
// hold it back.
func (d *DB) LastScored(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	if err := d.db.QueryRowContext(ctx, "SELECT max(round_id) FROM batches_rounds").Scan(&id); err != nil {
		return 0, fmt.Errorf("find last scored round: %w", err)
	}
	return id.Int64, nil
}

// Batch is one detect run: a batches row and its batches_rounds.
type Batch struct {
	At        time.Time
	Alg       string // batches.alg
	Model     string // anomalies.model of its anomalies
	Scored    []ScoredRound
	TrainedOn []int64 // rounds trained on and not scored, stored with a NULL score
}

// ScoredRound is one round a batch scored; an anomalous one gets an anomalies row.
type ScoredRound struct {
	RoundID   int64
	Start     time.Time
	Score     float64
	Anomalous bool
	Threshold float64 // anomalies.threshold
	Detail    string  // anomalies.detail JSON
}

// RecordBatch stores b in one transaction: the batch, every scored round
// with its score, the rounds trained on with a NULL score, and an anomaly
// per anomalous round. The anomalies' unique round index makes a repeated
// round a no-op, never a duplicate. A batch of no rounds stores nothing.
func (d *DB) RecordBatch(ctx context.Context, b Batch) error {
	if len(b.Scored)+len(b.TrainedOn) == 0 {
		return nil
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record batch: %w", err)
	}
	defer tx.Rollback()
	now := FormatTime(b.At)
	res, err := tx.ExecContext(ctx, "INSERT INTO batches (timestamp, alg) VALUES (?, ?)", now, b.Alg)
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
	for _, id := range b.TrainedOn {
		if _, err := scoreStmt.ExecContext(ctx, batch, id, nil); err != nil {
			return fmt.Errorf("record training round %d: %w", id, err)
		}
	}
	for _, r := range b.Scored {
		if _, err := scoreStmt.ExecContext(ctx, batch, r.RoundID, r.Score); err != nil {
			return fmt.Errorf("record score of round %d: %w", r.RoundID, err)
		}
		if !r.Anomalous {
			continue
		}
		if _, err := anomStmt.ExecContext(ctx, r.RoundID, FormatTime(r.Start), now,
			r.Score, r.Threshold, b.Model, r.Detail); err != nil {
			return fmt.Errorf("record anomaly of round %d: %w", r.RoundID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record batch: %w", err)
	}
	return nil
}
