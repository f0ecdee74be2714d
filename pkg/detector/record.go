package detector

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"portwatch/pkg/store"
)

// detail is the anomalies.detail JSON.
type detail struct {
	Ports   []Port    `json:"ports"`
	Traffic []Finding `json:"traffic,omitempty"`
}

// record stores one run as a batch: every scored round with its score and,
// when anomalous, its detail; the rounds trained on unscored.
func record(ctx context.Context, db *store.DB, at time.Time, alg, model string, rs []Scored, trainedOn []int64) error {
	b := store.Batch{At: at, Alg: alg, Model: model, TrainedOn: trainedOn, Scored: make([]store.ScoredRound, len(rs))}
	for i, r := range rs {
		b.Scored[i] = store.ScoredRound{RoundID: r.RoundID, Start: r.Start, Score: r.Score, Anomalous: r.Anomalous, Threshold: r.Threshold}
		if !r.Anomalous {
			continue
		}
		d, err := json.Marshal(detail{Ports: r.Ports, Traffic: r.Traffic})
		if err != nil {
			return fmt.Errorf("record anomaly of round %d: %w", r.RoundID, err)
		}
		b.Scored[i].Detail = string(d)
	}
	return db.RecordBatch(ctx, b)
}
