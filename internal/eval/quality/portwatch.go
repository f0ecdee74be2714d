package quality

import (
	"log/slog"

	"portwatch/pkg/detector"
	"portwatch/pkg/store"
)

// Portwatch is portwatch's entry in the harness: the detector replayed
// the way cron runs it (see detector.Replay).
type Portwatch struct {
	r      *detector.Replay
	scored []detector.Scored // the last Score's verdicts, for a tool to explain
}

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
	p.scored = scored
	out := make([]Verdict, len(scored))
	for i, s := range scored {
		out[i] = Verdict{Round: i, Anomalous: s.Anomalous, Score: s.Score}
	}
	return out, nil
}

// Scored returns the last Score's verdicts in full: what fired in each round.
func (p *Portwatch) Scored() []detector.Scored { return p.scored }
