package detector

import (
	"log/slog"

	"portwatch/pkg/features"
	"portwatch/pkg/store"
)

// hourly is how many minute rounds a cron run of detect finds new.
const hourly = 60

// Replay runs the detector over rounds held in memory the way cron does:
// train once, then score an hour of rounds at a time and refit on the
// normal ones after each. The evaluation harness drives it; nothing is
// read from or written to a database or model file.
type Replay struct {
	d       *Detector
	m       *model
	context []store.Round // the rounds before the next to score, for their windows
}

// NewReplay returns a replay for cfg (ModelPath is not used).
func NewReplay(cfg Config, log *slog.Logger) *Replay {
	return &Replay{d: New(cfg, log)}
}

// Train builds a fresh model and trains and calibrates it on rounds.
func (q *Replay) Train(rounds []store.Round) error {
	m, err := newModel(q.d.cfg.Channels, 0, q.d.cfg.Batch, q.d.cfg.Seed)
	if err != nil {
		return err
	}
	if _, err := q.d.train(m, rounds); err != nil {
		return err
	}
	q.m = m
	q.context = rounds[max(0, len(rounds)-(m.window-1)):]
	return nil
}

// Score judges rounds an hour at a time, refitting after each hour when
// the configuration says so. It returns one verdict per round, in order.
func (q *Replay) Score(rounds []store.Round) ([]Scored, error) {
	var out []Scored
	for lo := 0; lo < len(rounds); lo += hourly {
		hour := rounds[lo:min(lo+hourly, len(rounds))]
		all := append(append([]store.Round(nil), q.context...), hour...)
		ws, err := features.Windows(all, q.m.window)
		if err != nil {
			return nil, err
		}
		ws = ws[len(q.context):]
		rs, err := q.d.score(q.m, ws)
		if err != nil {
			return nil, err
		}
		judge(rs, q.m.cal)
		out = append(out, rs...)
		if q.d.cfg.Refit {
			if _, err := q.d.learn(q.m, ws, rs); err != nil {
				return nil, err
			}
		}
		q.context = all[max(0, len(all)-(q.m.window-1)):]
	}
	return out, nil
}
