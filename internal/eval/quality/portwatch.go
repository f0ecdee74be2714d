package quality

import (
	"fmt"
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
		out[i] = Verdict{Round: i, Anomalous: s.Anomalous, Score: s.Score, Why: why(s)}
	}
	return out, nil
}

// Scored returns the last Score's verdicts in full: what fired in each round.
func (p *Portwatch) Scored() []detector.Scored { return p.scored }

// why tells the first cause of a flagged round: its first finding, or its
// first port past its limit ("22/tcp tcp_listen sshd vanished 14.6").
func why(s detector.Scored) string {
	if !s.Anomalous {
		return ""
	}
	if len(s.Traffic) > 0 {
		return s.Traffic[0].Text
	}
	for _, p := range s.Ports {
		if p.Over {
			return fmt.Sprintf("%d/%s %s %s %s %.3g", p.Port, p.Protocol, p.Channel, p.Process, p.Change, p.Error)
		}
	}
	return "the volume (total or excess surprise)"
}
