package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"portwatch/pkg/sock"
	"portwatch/pkg/traffic"
)

// complete and scorable are the SQL conditions on rounds of a complete round
// and of one detect can score: complete with at least one occupancy scan (a
// round ingested from a capture file has packets but no socket table, so its
// occupancy is unknown, not empty). Nothing else spells them.
const (
	complete = "status = '" + string(Complete) + "'"
	scorable = complete + " AND scans > 0"
	// captured is the condition of a round with a traffic summary: a
	// capture file's round, or a live round collected with -p.
	captured = "id IN (SELECT round_id FROM traffic_rounds)"
)

// RoundQuery selects complete rounds. Zero fields do not restrict.
type RoundQuery struct {
	AfterID int64     // rounds with id > AfterID
	Since   time.Time // rounds starting at or after Since
	Until   time.Time // rounds starting before Until
	Source  string    // rounds from this source, e.g. "live"
	// Scanned keeps only the rounds an occupancy model can score: those
	// with at least one occupancy scan (rounds.scans > 0).
	Scanned bool
	// Captured keeps only the rounds with a traffic summary, the rounds a
	// model of traffic alone scores.
	Captured bool
	// Normal keeps only the rounds no anomaly names: those detect judged
	// normal, or has not scored.
	Normal bool
	Limit  int // the first Limit selected rounds, by id
	// Context adds up to Context complete rounds (of the same source, and
	// scanned when Scanned, captured when Captured) just before the first
	// selected one, so it gets a full window; pass T-1.
	// They come first in the result, with ids at or below the selection's.
	Context int
	Traffic bool // load the rounds' traffic summaries (Round.Traffic)
}

// Round is one complete collection round as detection reads it.
type Round struct {
	ID      int64
	Start   time.Time
	Sockets []sock.Socket // ordered by port, then protocol, family, address and state as stored text, then namespace inode
	// Traffic is the round's traffic summary when RoundQuery.Traffic asked
	// for it; nil for a round without one (no capture).
	Traffic *traffic.Summary
}

// CountRounds returns how many rounds the database holds, of any status.
func (d *DB) CountRounds(ctx context.Context) (int64, error) {
	var n int64
	if err := d.db.QueryRowContext(ctx, "SELECT count(*) FROM rounds").Scan(&n); err != nil {
		return 0, fmt.Errorf("count rounds: %w", err)
	}
	return n, nil
}

// SetStatus sets the status of the rounds with ids in [first, last], which
// evaluation tools and tests use to hold rounds back as still running.
func (d *DB) SetStatus(ctx context.Context, first, last int64, s Status) error {
	if _, err := d.db.ExecContext(ctx, "UPDATE rounds SET status = ? WHERE id BETWEEN ? AND ?", string(s), first, last); err != nil {
		return fmt.Errorf("set rounds %d to %d %s: %w", first, last, s, err)
	}
	return nil
}

// base returns the conditions on rounds that q's kind of round must meet,
// whatever the range, and their arguments.
func (q RoundQuery) base() (string, []any) {
	where := []string{complete}
	if q.Scanned {
		where[0] = scorable
	}
	if q.Captured {
		where = append(where, captured)
	}
	var args []any
	if q.Source != "" {
		where = append(where, "source = ?")
		args = append(args, q.Source)
	}
	return strings.Join(where, " AND "), args
}

// selection returns the CTE naming the selected round ids as "ids", and its arguments.
func (q RoundQuery) selection() (string, []any) {
	base, baseArgs := q.base()
	where := []string{base}
	args := append([]any(nil), baseArgs...)
	if q.AfterID > 0 {
		where = append(where, "id > ?")
		args = append(args, q.AfterID)
	}
	if !q.Since.IsZero() {
		where = append(where, "start_time >= ?")
		args = append(args, FormatTime(q.Since))
	}
	if !q.Until.IsZero() {
		where = append(where, "start_time < ?")
		args = append(args, FormatTime(q.Until))
	}
	if q.Normal {
		where = append(where, "id NOT IN (SELECT round_id FROM anomalies WHERE round_id IS NOT NULL)")
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

// Rounds reads the rounds q selects, oldest first, with their sockets (and
// traffic summaries when q.Traffic). The query walks the rounds by id and their
// rows in rounds_ports' unique index, with no sort.
func (d *DB) Rounds(ctx context.Context, q RoundQuery) ([]Round, error) {
	cte, args := q.selection()
	rows, err := d.db.QueryContext(ctx, cte+`
SELECT r.id, r.start_time, rp.port_id, rp.protocol, rp.family, rp.address, rp.state, rp.pid, rp.process,
	rp.netns, rp.netns_host, rp.netns_name
FROM rounds r LEFT JOIN rounds_ports rp ON rp.round_id = r.id
WHERE r.id IN (SELECT id FROM ids)
ORDER BY r.id, rp.port_id, rp.protocol, rp.family, rp.address, rp.state, rp.netns`, args...)
	if err != nil {
		return nil, fmt.Errorf("load rounds: %w", err)
	}
	defer rows.Close()
	var (
		out                      []Round
		in                       = newInterner()
		id                       int64
		start                    sql.RawBytes
		port                     sql.NullInt64
		fam                      sql.NullInt64
		pid, netns, host         sql.NullInt64
		proto, addr, state, proc sql.RawBytes
		nsName                   sql.RawBytes
	)
	for rows.Next() {
		if err := rows.Scan(&id, &start, &port, &proto, &fam, &addr, &state, &pid, &proc, &netns, &host, &nsName); err != nil {
			return nil, fmt.Errorf("load rounds: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != id {
			t, err := ParseTime(string(start))
			if err != nil {
				return nil, fmt.Errorf("load round %d: %w", id, err)
			}
			out = append(out, Round{ID: id, Start: t})
		}
		if !port.Valid {
			continue // a round that saw no sockets
		}
		s := sock.Socket{Port: uint16(port.Int64), Family: int(fam.Int64), PID: int(pid.Int64), Process: in.text(proc),
			// Inode 0 (not told) reads back as the zero Netns the scanner gave, though stored as the host's.
			Netns: sock.Netns{Inode: uint64(netns.Int64), Host: host.Int64 == 1 && netns.Int64 != 0, Name: in.text(nsName)}}
		if err := in.parse(&s, proto, state, addr); err != nil {
			return nil, fmt.Errorf("load round %d port %d: %w", id, s.Port, err)
		}
		r := &out[len(out)-1]
		r.Sockets = append(r.Sockets, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load rounds: %w", err)
	}
	if q.Traffic && len(out) > 0 {
		if err := d.loadTraffic(ctx, q, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Count returns how many rounds q's kind of round (Scanned, Captured,
// Source) holds in q's range (AfterID, Since, Until), whatever its Limit.
func (d *DB) Count(ctx context.Context, q RoundQuery) (int, error) {
	q.Limit, q.Context = 0, 0
	cte, args := q.selection()
	var n int
	if err := d.db.QueryRowContext(ctx, cte+" SELECT count(*) FROM ids", args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rounds: %w", err)
	}
	return n, nil
}

// Newest returns the round id after which the newest n of the rounds q
// selects begin, for RoundQuery.AfterID; 0 when q selects n or fewer.
func (d *DB) Newest(ctx context.Context, q RoundQuery, n int) (int64, error) {
	q.Limit, q.Context, q.AfterID = 0, 0, 0
	cte, args := q.selection()
	var first sql.NullInt64
	err := d.db.QueryRowContext(ctx, cte+" SELECT min(id) FROM (SELECT id FROM ids ORDER BY id DESC LIMIT ?)",
		append(args, n)...).Scan(&first)
	if err != nil {
		return 0, fmt.Errorf("find the newest %d rounds: %w", n, err)
	}
	return max(first.Int64-1, 0), nil
}

// interner shares one string per distinct value among a load's sockets, and
// parses each distinct protocol, state and address text once: a few of each
// repeat in every round.
type interner struct {
	texts  map[string]string
	protos map[string]sock.Protocol
	states map[string]sock.State
	addrs  map[string]netip.Addr
}

func newInterner() *interner {
	return &interner{texts: map[string]string{}, protos: map[string]sock.Protocol{},
		states: map[string]sock.State{}, addrs: map[string]netip.Addr{}}
}

func (in *interner) text(b []byte) string {
	if b == nil {
		return ""
	}
	if s, ok := in.texts[string(b)]; ok {
		return s
	}
	s := string(b)
	in.texts[s] = s
	return s
}

// parse sets s's protocol, state and address (of s.Family) from their stored text.
func (in *interner) parse(s *sock.Socket, proto, state, addr []byte) error {
	var err error
	if s.Protocol, err = lookup(in.protos, proto, sock.ParseProtocol); err != nil {
		return err
	}
	if s.State, err = lookup(in.states, state, sock.ParseState); err != nil {
		return err
	}
	if string(addr) == "*" { // the wildcard of s.Family, so not cached
		s.Address, err = sock.ParseAddr("*", s.Family)
		return err
	}
	s.Address, err = lookup(in.addrs, addr, func(a string) (netip.Addr, error) { return sock.ParseAddr(a, s.Family) })
	return err
}

// lookup returns m's value for b, making and keeping it on a miss.
func lookup[V any](m map[string]V, b []byte, parse func(string) (V, error)) (V, error) {
	if v, ok := m[string(b)]; ok {
		return v, nil
	}
	v, err := parse(string(b))
	if err == nil {
		m[string(b)] = v
	}
	return v, err
}
