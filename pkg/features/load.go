package features

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"portwatch/pkg/store"
)

// Query selects complete rounds. Zero fields do not restrict.
type Query struct {
	AfterID int64     // rounds with id > AfterID
	Since   time.Time // rounds starting at or after Since
	Until   time.Time // rounds starting before Until
	Source  string    // rounds from this source, e.g. "live"
	// Scanned keeps only rounds with at least one occupancy scan
	// (rounds.scans > 0): a round ingested from a capture file has packets
	// but no socket table, so its occupancy is unknown, not empty.
	Scanned bool
	Limit   int // the first Limit selected rounds, by id
	// Context adds up to Context complete rounds (of the same source, and
	// scanned when Scanned) just before the first selected one, so it gets
	// a full window; pass T-1.
	// They come first in the result, with ids at or below the selection's.
	Context int
	Packets bool // load packet-derived counts (see Layout.Packets)
}

// selection returns the CTE naming the selected round ids as "ids", and its arguments.
func (q Query) selection() (string, []any) {
	where := []string{"status = 'complete'"}
	var args []any
	if q.Source != "" {
		where = append(where, "source = ?")
		args = append(args, q.Source)
	}
	if q.Scanned {
		where = append(where, "scans > 0")
	}
	base := strings.Join(where, " AND ")
	baseArgs := append([]any(nil), args...)
	if q.AfterID > 0 {
		where = append(where, "id > ?")
		args = append(args, q.AfterID)
	}
	if !q.Since.IsZero() {
		where = append(where, "start_time >= ?")
		args = append(args, store.FormatTime(q.Since))
	}
	if !q.Until.IsZero() {
		where = append(where, "start_time < ?")
		args = append(args, store.FormatTime(q.Until))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	args = append(args, limit)
	cte := "WITH sel AS (SELECT id FROM rounds WHERE " + strings.Join(where, " AND ") + " ORDER BY id LIMIT ?)"
	if q.Context <= 0 {
		return cte + ", ids AS (SELECT id FROM sel)", args
	}
	// Rounds before the selection's first; none when the selection is empty.
	cte += ", ctx AS (SELECT id FROM rounds WHERE " + base +
		" AND id < (SELECT min(id) FROM sel) ORDER BY id DESC LIMIT ?)" +
		", ids AS (SELECT id FROM sel UNION ALL SELECT id FROM ctx)"
	args = append(args, baseArgs...)
	args = append(args, q.Context)
	return cte, args
}

// Load reads the rounds q selects, oldest first, with their sockets (and
// SYN counts when q.Packets), from a portwatch database. The query walks the
// rounds by id and their rows in rounds_ports' unique index, with no sort.
func Load(ctx context.Context, db *sql.DB, q Query) ([]Round, error) {
	cte, args := q.selection()
	rows, err := db.QueryContext(ctx, cte+`
SELECT r.id, r.start_time, rp.port_id, rp.protocol, rp.family, rp.address, rp.state, rp.pid, rp.process
FROM rounds r LEFT JOIN rounds_ports rp ON rp.round_id = r.id
WHERE r.id IN (SELECT id FROM ids)
ORDER BY r.id, rp.port_id, rp.protocol, rp.family, rp.address, rp.state`, args...)
	if err != nil {
		return nil, fmt.Errorf("load rounds: %w", err)
	}
	defer rows.Close()
	var (
		out                      []Round
		in                       = interner{}
		id                       int64
		start                    sql.RawBytes
		port                     sql.NullInt64
		fam                      sql.NullInt64
		pid                      sql.NullInt64
		proto, addr, state, proc sql.RawBytes
	)
	for rows.Next() {
		if err := rows.Scan(&id, &start, &port, &proto, &fam, &addr, &state, &pid, &proc); err != nil {
			return nil, fmt.Errorf("load rounds: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != id {
			t, err := store.ParseTime(string(start))
			if err != nil {
				return nil, fmt.Errorf("load round %d: %w", id, err)
			}
			out = append(out, Round{ID: id, Start: t})
		}
		if !port.Valid {
			continue // a round that saw no sockets
		}
		r := &out[len(out)-1]
		r.Sockets = append(r.Sockets, Socket{
			Port:     uint16(port.Int64),
			Protocol: in.get(proto),
			Family:   int(fam.Int64),
			Address:  in.get(addr),
			State:    in.get(state),
			PID:      int(pid.Int64),
			Process:  in.get(proc),
		})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load rounds: %w", err)
	}
	if q.Packets && len(out) > 0 {
		if err := loadSYN(ctx, db, q, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// loadSYN adds per-port SYN counts to rounds, which hold what q selected.
// It runs outside a transaction (the store's BEGIN takes the write lock), so
// q may select rounds completed since; their counts are skipped.
func loadSYN(ctx context.Context, db *sql.DB, q Query, rounds []Round) error {
	cte, args := q.selection()
	// SYN set (2), ACK clear (16): a connection being opened.
	rows, err := db.QueryContext(ctx, cte+`
SELECT p.round_id, p.dest_port, count(*)
FROM packets p
WHERE p.round_id IN (SELECT id FROM ids) AND p.tcp_flags & 18 = 2
GROUP BY p.round_id, p.dest_port
ORDER BY p.round_id, p.dest_port`, args...)
	if err != nil {
		return fmt.Errorf("load syn counts: %w", err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var id, port int64
		var n int
		if err := rows.Scan(&id, &port, &n); err != nil {
			return fmt.Errorf("load syn counts: %w", err)
		}
		for i < len(rounds) && rounds[i].ID < id {
			i++
		}
		if i == len(rounds) || rounds[i].ID != id || port < 0 || port >= Ports {
			continue
		}
		rounds[i].SYN = append(rounds[i].SYN, PortCount{Port: uint16(port), N: n})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load syn counts: %w", err)
	}
	return nil
}

// interner shares one string per distinct value among a load's sockets:
// a few protocols, states, addresses and process names repeat in every round.
type interner map[string]string

func (in interner) get(b []byte) string {
	if b == nil {
		return ""
	}
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	in[s] = s
	return s
}
