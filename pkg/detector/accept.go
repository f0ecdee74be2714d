package detector

import (
	"context"
	"fmt"
	"slices"

	"portwatch/pkg/features"
	"portwatch/pkg/store"
)

// Acceptor is told each cron run's verdicts before they are stored: it sets
// Accepted on the anomalous rounds whose every cause the owner accepted, and
// returns earlier rounds (those of incidents accepted since the last run) to
// refit on. pkg/incident implements it.
type Acceptor interface {
	Accept(ctx context.Context, rs []Scored) (relearn []int64, err error)
}

// accept applies Config.Acceptor to rs: an accepted round is no anomaly, so
// it is stored without one and refit on. It returns the windows of the
// earlier rounds to refit on, the newest RefitSize at most.
func (d *Detector) accept(ctx context.Context, db *store.DB, m *model, rs []Scored) ([]features.Window, error) {
	if d.cfg.Acceptor == nil {
		return nil, nil
	}
	ids, err := d.cfg.Acceptor.Accept(ctx, rs)
	if err != nil {
		return nil, fmt.Errorf("accepted causes: %w", err)
	}
	for i := range rs {
		if rs[i].Accepted {
			rs[i].Anomalous = false
		}
	}
	if len(ids) == 0 || !d.cfg.Refit {
		return nil, nil
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if d.cfg.RefitSize > 0 && len(ids) > d.cfg.RefitSize {
		ids = ids[len(ids)-d.cfg.RefitSize:]
	}
	q := m.query()
	q.AfterID, q.Limit, q.Context = ids[0]-1, int(ids[len(ids)-1]-ids[0]+1), m.window-1
	rounds, err := db.Rounds(ctx, q)
	if err != nil {
		return nil, err
	}
	ws, err := features.Windows(rounds, m.window)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(ws, func(w features.Window) bool {
		_, found := slices.BinarySearch(ids, w.Last().ID)
		return !found
	}), nil
}
