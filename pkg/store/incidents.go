package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"time"
)

// Incident states.
const (
	IncidentOpen     = "open"
	IncidentClosed   = "closed"
	IncidentAccepted = "accepted"
)

// Incident is an incidents row.
type Incident struct {
	ID                    int64
	Key, Kind, State      string
	FirstRound, LastRound int64
	OpenedAt, UpdatedAt   time.Time
	ClosedAt              time.Time // zero while not closed
	Detail                string    // JSON
	Rounds, Absent        int
	Score                 float64
	RefitPending          bool
}

const incidentColumns = `id, key, kind, state, first_round_id, last_round_id, opened_at, updated_at,
coalesce(closed_at, ''), detail, rounds, absent, score, refit_pending`

// Incidents returns the incidents in one of states (none: all), by id.
func (d *DB) Incidents(ctx context.Context, states ...string) ([]Incident, error) {
	q := "SELECT " + incidentColumns + " FROM incidents"
	args := make([]any, len(states))
	if len(states) > 0 {
		q += " WHERE state IN (?" + strings.Repeat(", ?", len(states)-1) + ")"
		for i, s := range states {
			args[i] = s
		}
	}
	rows, err := d.db.QueryContext(ctx, q+" ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	var out []Incident
	for rows.Next() {
		var in Incident
		var opened, updated, closed string
		if err := rows.Scan(&in.ID, &in.Key, &in.Kind, &in.State, &in.FirstRound, &in.LastRound, &opened, &updated,
			&closed, &in.Detail, &in.Rounds, &in.Absent, &in.Score, &in.RefitPending); err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		if in.OpenedAt, err = ParseTime(opened); err == nil {
			if in.UpdatedAt, err = ParseTime(updated); err == nil && closed != "" {
				in.ClosedAt, err = ParseTime(closed)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("incident %d: %w", in.ID, err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return out, nil
}

// SaveIncidents writes ins in one transaction: a row with ID 0 is inserted
// and gets its id, the others are updated. It returns ins with their ids.
func (d *DB) SaveIncidents(ctx context.Context, ins []Incident) ([]Incident, error) {
	if len(ins) == 0 {
		return ins, nil
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("save incidents: %w", err)
	}
	defer tx.Rollback()
	for i := range ins {
		in := &ins[i]
		var closed any
		if !in.ClosedAt.IsZero() {
			closed = FormatTime(in.ClosedAt)
		}
		args := []any{in.Key, in.Kind, in.State, in.FirstRound, in.LastRound, FormatTime(in.OpenedAt), FormatTime(in.UpdatedAt),
			closed, in.Detail, in.Rounds, in.Absent, in.Score, in.RefitPending}
		if in.ID != 0 {
			_, err = tx.ExecContext(ctx, `UPDATE incidents SET key = ?, kind = ?, state = ?, first_round_id = ?, last_round_id = ?,
opened_at = ?, updated_at = ?, closed_at = ?, detail = ?, rounds = ?, absent = ?, score = ?, refit_pending = ? WHERE id = ?`,
				append(args, in.ID)...)
		} else {
			var res sql.Result
			res, err = tx.ExecContext(ctx, `INSERT INTO incidents (key, kind, state, first_round_id, last_round_id,
opened_at, updated_at, closed_at, detail, rounds, absent, score, refit_pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
			if err == nil {
				in.ID, err = res.LastInsertId()
			}
		}
		if err != nil {
			return nil, fmt.Errorf("save incident %s: %w", in.Key, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("save incidents: %w", err)
	}
	return ins, nil
}

// Accept is an accepted row: a cause the owner said is fine. Empty Process
// and Address match any.
type Accept struct {
	ID         int64
	Protocol   string
	Port       int
	Process    string
	Address    string
	By         string
	At         time.Time
	Note       string
	IncidentID int64 // 0 when accepted by port
}

// AddAccept stores a and marks the incidents ids accepted with their rounds
// due for a refit, in one transaction. Accepting a cause already accepted
// replaces its who, when and why. It returns a's id.
func (d *DB) AddAccept(ctx context.Context, a Accept, ids []int64) (int64, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("accept: %w", err)
	}
	defer tx.Rollback()
	var inc any
	if a.IncidentID != 0 {
		inc = a.IncidentID
	}
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO accepted (protocol, port, process, address, accepted_by, accepted_at, note, incident_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (protocol, port, process, address) DO UPDATE SET
accepted_by = excluded.accepted_by, accepted_at = excluded.accepted_at, note = excluded.note, incident_id = excluded.incident_id
RETURNING id`, a.Protocol, a.Port, a.Process, a.Address, a.By, FormatTime(a.At), a.Note, inc).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("accept %d/%s: %w", a.Port, a.Protocol, err)
	}
	for _, in := range ids {
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET state = ?, updated_at = ?, refit_pending = 1 WHERE id = ?`,
			IncidentAccepted, FormatTime(a.At), in); err != nil {
			return 0, fmt.Errorf("accept incident %d: %w", in, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("accept: %w", err)
	}
	return id, nil
}

// Accepts returns the accepted causes, by id.
func (d *DB) Accepts(ctx context.Context) ([]Accept, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, protocol, port, process, address, accepted_by, accepted_at, note,
coalesce(incident_id, 0) FROM accepted ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list accepted: %w", err)
	}
	defer rows.Close()
	var out []Accept
	for rows.Next() {
		var a Accept
		var at string
		if err := rows.Scan(&a.ID, &a.Protocol, &a.Port, &a.Process, &a.Address, &a.By, &at, &a.Note, &a.IncidentID); err != nil {
			return nil, fmt.Errorf("list accepted: %w", err)
		}
		if a.At, err = ParseTime(at); err != nil {
			return nil, fmt.Errorf("accepted %d: %w", a.ID, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list accepted: %w", err)
	}
	return out, nil
}

// RemoveAccept deletes the accepted row id; found is false when there is none.
func (d *DB) RemoveAccept(ctx context.Context, id int64) (found bool, err error) {
	res, err := d.db.ExecContext(ctx, "DELETE FROM accepted WHERE id = ?", id)
	if err != nil {
		return false, fmt.Errorf("unaccept %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("unaccept %d: %w", id, err)
	}
	return n > 0, nil
}

// RefitDone clears refit_pending on the incidents ids, once their rounds
// were refit on.
func (d *DB) RefitDone(ctx context.Context, ids []int64) error {
	for _, id := range ids {
		if _, err := d.db.ExecContext(ctx, "UPDATE incidents SET refit_pending = 0 WHERE id = ?", id); err != nil {
			return fmt.Errorf("mark incident %d refit: %w", id, err)
		}
	}
	return nil
}

// Summary is what detect status shows of the database.
type Summary struct {
	Bytes          int64     // the database file with its -wal
	Rounds         int64     // rounds of any status
	Complete       int64     // complete rounds
	LastRound      time.Time // the newest round's end (or start while running); zero if none
	LastDetect     time.Time // the newest batch; zero if none
	Scored         int64     // rounds with a score
	Anomalies      int64
	OpenIncidents  int64
	AcceptedCauses int64
}

// Summarize returns the database's Summary.
func (d *DB) Summarize(ctx context.Context) (Summary, error) {
	var s Summary
	var last, detect string
	err := d.db.QueryRowContext(ctx, `SELECT
 (SELECT count(*) FROM rounds),
 (SELECT count(*) FROM rounds WHERE `+complete+`),
 (SELECT coalesce(max(coalesce(end_time, start_time)), '') FROM rounds),
 (SELECT coalesce(max(timestamp), '') FROM batches),
 (SELECT count(*) FROM batches_rounds WHERE score IS NOT NULL),
 (SELECT count(*) FROM anomalies),
 (SELECT count(*) FROM incidents WHERE state = 'open'),
 (SELECT count(*) FROM accepted)`).Scan(&s.Rounds, &s.Complete, &last, &detect, &s.Scored, &s.Anomalies, &s.OpenIncidents, &s.AcceptedCauses)
	if err != nil {
		return s, fmt.Errorf("summarize database: %w", err)
	}
	for _, f := range []struct {
		text string
		t    *time.Time
	}{{last, &s.LastRound}, {detect, &s.LastDetect}} {
		if f.text == "" {
			continue
		}
		if *f.t, err = ParseTime(f.text); err != nil {
			return s, fmt.Errorf("summarize database: %w", err)
		}
	}
	for _, suffix := range []string{"", "-wal"} {
		if st, err := os.Stat(d.path + suffix); err == nil {
			s.Bytes += st.Size()
		}
	}
	return s, nil
}
