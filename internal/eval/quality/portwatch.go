package quality

import (
	"log/slog"

	"portwatch/pkg/detector"
	"portwatch/pkg/store"
)

// Portwatch is portwatch's entry in the harness: the detector replayed
// the way cron runs it (see detector.Replay).
type Portwatch struct{ r *detector.Replay }

var _ Detector = (*Portwatch)(nil)

// NewPortwatch returns the harness entry for cfg (ModelPath is not used).
func NewPortwatch(cfg detector.Config, log *slog.Logger) *Portwatch {
	return &Portwatch{r: detector.NewReplay(cfg, log)}
}

// Train fits the model to normal rounds.
func (p *Portwatch) Train(rounds []store.Round) error { return p.r.Train(rounds) }

// Score judges rounds an hour at a time, as cron would.
func (p *Portwatch) Score(rounds []store.Round) ([]Verdict, error) {
	scored, err := p.r.Score(rounds)
	if err != nil {
		return nil, err
	}
	out := make([]Verdict, len(scored))
	for i, s := range scored {
		out[i] = Verdict{Round: i, Anomalous: s.Anomalous, Score: s.Score}
	}
	return out, nil
}
