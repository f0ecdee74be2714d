package scenario

import (
	"context"
	"fmt"
	"time"

	"portwatch/pkg/store"
)

// commitEvery rounds, Write commits: big transactions, bounded WAL.
const commitEvery = 500

// Write stores the timeline's rounds in db, which must hold no rounds yet
// (so the stored ids are the timeline's), as complete rounds of source
// Source, one occupancy scan each.
func (tl *Timeline) Write(ctx context.Context, db *store.DB) error {
	if err := tl.write(ctx, db); err != nil {
		return fmt.Errorf("write scenario to %s: %w", db.Path(), err)
	}
	return nil
}

func (tl *Timeline) write(ctx context.Context, db *store.DB) (err error) {
	n, err := db.CountRounds(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("it already holds %d rounds; use a new database", n)
	}
	w, err := db.NewWriter()
	if err != nil {
		return err
	}
	defer func() {
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}()
	for i, r := range tl.Rounds {
		if err := ctx.Err(); err != nil {
			return err
		}
		id, err := w.StartRound(r.Start, Source)
		if err != nil {
			return err
		}
		if id != r.ID {
			return fmt.Errorf("round %d stored as id %d; use a new database", r.ID, id)
		}
		if err := w.AddScan(id, r.Start, r.Sockets); err != nil {
			return err
		}
		if err := w.EndRound(id, r.Start.Add(55*time.Second), store.Complete, store.Counts{}); err != nil {
			return err
		}
		if (i+1)%commitEvery == 0 {
			if err := w.Commit(); err != nil {
				return err
			}
		}
	}
	return nil
}
