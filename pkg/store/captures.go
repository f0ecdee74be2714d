package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Capture is what the database holds of one capture file's ingest.
type Capture struct {
	ID         int64
	Frames     int64 // frames 1..Frames are stored
	Round      int64 // the round frames were going into at the last commit; 0 when none (or deleted)
	RoundFrame int64 // that round's first frame
	Complete   bool  // ingested to its end
}

type captureStmts struct {
	find, insert, progress, resume *sql.Stmt
}

func (c *captureStmts) close() {
	if c != nil {
		closeAll(c.find, c.insert, c.progress, c.resume)
	}
}

func (w *Writer) prepareCapture() error {
	if w.capture != nil {
		return nil
	}
	c := &captureStmts{}
	if err := w.prepareAll("capture", []namedStmt{
		{&c.find, `SELECT id, frames_committed, coalesce(round_id, 0), round_frame, complete FROM captures WHERE identity = ?`},
		{&c.insert, `INSERT INTO captures (identity, name, size, updated_at) VALUES (?, ?, ?, ?)`},
		{&c.progress, `UPDATE captures SET frames_committed = ?, round_id = nullif(?, 0), round_frame = ?, complete = ?, updated_at = ? WHERE id = ?`},
		{&c.resume, `UPDATE rounds SET status = 'running' WHERE id = ? RETURNING start_time`},
	}); err != nil {
		return err
	}
	w.capture = c
	return nil
}

// OpenCapture returns the record of the capture file with identity (its
// size and a hash of its first bytes), adding it, in the open transaction,
// when the file is new.
func (w *Writer) OpenCapture(identity, name string, size int64) (Capture, error) {
	if err := w.begin(); err != nil {
		return Capture{}, err
	}
	w.wait()
	if err := w.prepareCapture(); err != nil {
		return Capture{}, err
	}
	var c Capture
	err := w.capture.find.QueryRowContext(w.ctx, identity).Scan(&c.ID, &c.Frames, &c.Round, &c.RoundFrame, &c.Complete)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Capture{}, w.fail(fmt.Errorf("find capture %s: %w", name, err))
	}
	res, err := w.capture.insert.ExecContext(w.ctx, identity, name, size, FormatTime(time.Now()))
	if err == nil {
		c.ID, err = res.LastInsertId()
	}
	if err != nil {
		return Capture{}, w.fail(fmt.Errorf("add capture %s: %w", name, err))
	}
	return c, nil
}

// CaptureProgress records, in the open transaction and so atomically with
// the packets it counts, that frames 1..c.Frames of capture c.ID are stored
// and which round they were going into; Commit makes it durable.
func (w *Writer) CaptureProgress(c Capture) error {
	if err := w.begin(); err != nil {
		return err
	}
	now := FormatTime(time.Now())
	w.async(func() error {
		if err := w.prepareCapture(); err != nil {
			return err
		}
		if _, err := w.capture.progress.ExecContext(w.ctx, c.Frames, c.Round, c.RoundFrame, c.Complete, now, c.ID); err != nil {
			return fmt.Errorf("record progress of capture %d: %w", c.ID, err)
		}
		return nil
	})
	return w.failed()
}

// ResumeRound reopens a round an interrupted ingest of a capture left, so
// its resumed frames go into it; it returns the round's start. ok is false
// when the round is gone (cleanup deleted it).
func (w *Writer) ResumeRound(round int64) (start time.Time, ok bool, err error) {
	if err := w.begin(); err != nil {
		return time.Time{}, false, err
	}
	w.wait()
	if err := w.prepareCapture(); err != nil {
		return time.Time{}, false, err
	}
	if err := w.rounds.flush(w); err != nil { // were the round ended here, its row
		return time.Time{}, false, w.fail(err)
	}
	var text string
	err = w.capture.resume.QueryRowContext(w.ctx, round).Scan(&text)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err == nil {
		start, err = ParseTime(text)
	}
	if err != nil {
		return time.Time{}, false, w.fail(fmt.Errorf("resume round %d: %w", round, err))
	}
	w.started[round] = true
	return start, true, nil
}
