package store

import (
	"context"
	"database/sql"
	"fmt"
)

// writerCheckpointPages is the WAL size, in pages, at which the Writer's
// own commit checkpoints (SQLite's wal_autocheckpoint, 1000 by default):
// its checkpointer has copied most frames by then, and only a checkpoint
// that ends with the Writer between transactions lets SQLite start the WAL
// over, so this bounds the file (32 MiB of 16 KiB pages, and a transaction).
const writerCheckpointPages = 2048

// checkpointer copies the frames the Writer committed from the WAL into
// the database file on a connection of its own, while the Writer goes on
// with its next transaction: ingest's commit spent a sixth of a run's time
// checkpointing. A PASSIVE checkpoint waits for no lock and leaves frames
// readers still use; a failed one loses nothing (the frames stay in the
// WAL for the next checkpoint, at the latest the one at close).
type checkpointer struct {
	conn *sql.Conn
	kick chan struct{} // a commit happened
	done chan struct{} // closed when run has returned
	err  error         // the first failure, read after done
}

func (d *DB) startCheckpointer(ctx context.Context) (*checkpointer, error) {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect the checkpointer to %s: %w", d.path, err)
	}
	c := &checkpointer{conn: conn, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go c.run(ctx)
	return c, nil
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	for range c.kick {
		if _, err := c.conn.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil && c.err == nil {
			c.err = fmt.Errorf("checkpoint: %w", err)
		}
	}
}

// committed asks for a checkpoint, unless one is asked for already.
func (c *checkpointer) committed() {
	if c == nil {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// stop waits for a checkpoint under way and releases the connection.
func (c *checkpointer) stop() error {
	close(c.kick)
	<-c.done
	if err := c.conn.Close(); err != nil && c.err == nil {
		c.err = fmt.Errorf("close the checkpointer's connection: %w", err)
	}
	return c.err
}
