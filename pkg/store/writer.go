package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"portwatch/pkg/packet"
	"portwatch/pkg/sock"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"
)

// Status is a round's state in rounds.status.
type Status string

// Round states. A round is Running until its run ends it Complete, or
// Interrupted when the run was stopped (signal, damaged file, kill).
const (
	Running     Status = "running"
	Complete    Status = "complete"
	Interrupted Status = "interrupted"
)

// Counts are a round's frame counters (rounds.frames...).
type Counts struct {
	Frames    int64 // frames read, each stored as a packets row
	Malformed int64 // frames only partly decoded
	Skipped   int64 // records that could not be read at all
	Dropped   int64 // frames the kernel dropped
	BadTime   int64 // file frames with a time outside the sane window, not stored
}

// packetsPerInsert rows go into one multi-row INSERT: large enough that
// per-statement cost vanishes, small enough to stay far under SQLite's
// 32766 bound parameters.
const packetsPerInsert = 64

// packetsPerBlock rows go to the Writer's goroutine at a time, as
// several INSERTs: each hand-over may wake a thread on either side.
const packetsPerBlock = 4 * packetsPerInsert

const packetColumns = "round_id, frame, timestamp, protocols, qry_name, resp_name, port_id, dest_port, src_ip, dst_ip, length, tcp_flags, payload"

const numPacketColumns = 13

// roundsPerInsert rows of a round's tables (rounds and its traffic
// summary) go into one INSERT; a round stores a handful.
const roundsPerInsert = 32

// Writer writes rounds, scans and packets through one connection, inside one
// write transaction at a time that Commit ends. It is not safe for
// concurrent use. After a failed write every call returns that error and
// Close rolls the open transaction back; what earlier commits stored stays.
//
// The statements of a capture's hot path (StartRound, AddPacket, EndRound,
// AddTraffic, CaptureProgress) run on a goroutine of the Writer's own, in
// order, while the caller goes on decoding and summing: SQLite's share of
// ingest then overlaps the rest. Their failure is returned by a later call,
// at the latest by Commit, which waits for them. The other calls wait for
// the statements before them and run on the caller's goroutine.
type Writer struct {
	conn *sql.Conn
	ctx  context.Context
	tx   bool
	err  atomic.Pointer[error] // the first failed write's, set from either goroutine

	ops      chan func()       // statements for the Writer's goroutine, in order
	opsEnded chan struct{}     // closed when that goroutine has returned
	free     chan *packetBlock // blocks the goroutine has inserted
	cur      *packetBlock      // the block AddPacket is filling
	nextID   int64             // the id StartRound gives the next round
	closed   bool

	addPort, countScan   *sql.Stmt
	startRound, endRound *fusedStmt
	packets              *rowInserter // the Writer's goroutine's, and its caller's after wait
	rounds               *rowInserter // rounds ended in the transaction they started in

	// A round started and ended between two commits is stored by one
	// INSERT at its end, not an INSERT and two UPDATEs (end, local side).
	// The rounds still pending are inserted as running before a scan
	// counts in them and before a commit, so no commit holds a packet
	// without its round (this connection does not check foreign keys).
	pending map[int64]*pendingRound

	noRow    []driver.Value // Next's destination; the INSERTs return no row
	roundArg any            // lastRound, boxed once per round rather than per packet
	protoArg any            // the last Protocols, boxed; most packets repeat it
	ints     *intBoxes      // AddPacket's boxed numbers and strings
	strs     stringBoxes
	stamp    secondFormat // AddPacket's

	traffic *trafficStmts // nil until a round's traffic is stored
	ckpt    *checkpointer // nil until NewWriter has started it
	restore []string      // what Close sets on the connection before handing it back
	capture *captureStmts // nil until a capture file is opened

	started   map[int64]bool // rounds this Writer started: the only ones it may write to
	lastRound int64          // the round last found in started, if lastKnown,
	lastKnown bool           // so a packet costs no map lookup
}

// pendingRound is a started round not inserted yet.
type pendingRound struct {
	start, source         string
	localFrom, localAddrs any // nil until AddTraffic
}

// packetBlock is packetsPerBlock packets' arguments, filled by AddPacket
// and inserted by the Writer's goroutine; blocksInFlight of them go round,
// so one fills while another is inserted.
type packetBlock struct {
	args      []driver.NamedValue // packetsPerBlock rows of numPacketColumns
	rows      int                 // packets buffered in args
	arena     []byte              // their payloads, copied
	stamps    []byte              // their timestamps, formatted
	stampEnds [packetsPerBlock]int

	// A full block's INSERTs, one per packetsPerInsert rows, and how many
	// of their rows' arguments, packed to the front, each binds.
	stmts [packetsPerBlock / packetsPerInsert]driver.StmtQueryContext
	bound [packetsPerBlock / packetsPerInsert]int
}

// blocksInFlight is 4,096 packets, ten milliseconds of the goroutine's
// inserts: enough that it goes on while its caller sums up a busy round.
const blocksInFlight = 16

func newPacketBlock() *packetBlock {
	return &packetBlock{args: insertArgs(packetsPerBlock, numPacketColumns, packetsPerInsert)}
}

func (b *packetBlock) reset() {
	b.rows = 0
	b.arena, b.stamps = b.arena[:0], b.stamps[:0]
}

var errClosed = errors.New("writer closed")

// ErrUnknownRound is returned for a round id this Writer did not start.
var ErrUnknownRound = errors.New("round not started by this writer")

// check begins the write transaction if none is open and checks the Writer
// started round, which stands in for SQLite's foreign key check.
func (w *Writer) check(round int64) error {
	if err := w.begin(); err != nil {
		return err
	}
	if round != w.lastRound || !w.lastKnown {
		if !w.started[round] {
			return fmt.Errorf("round %d: %w", round, ErrUnknownRound)
		}
		w.lastRound, w.lastKnown, w.roundArg = round, true, round
	}
	return nil
}

// NewWriter returns a Writer on its own connection. Its statements run under
// context.Background: a run's context is cancelled by SIGTERM, and the round
// must still be ended and committed after that.
func (d *DB) NewWriter() (*Writer, error) {
	ctx := context.Background()
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to database %s: %w", d.path, err)
	}
	w := &Writer{conn: conn, ctx: ctx, noRow: make([]driver.Value, 0), started: map[int64]bool{}, pending: map[int64]*pendingRound{},
		ops: make(chan func(), 256), opsEnded: make(chan struct{}), free: make(chan *packetBlock, blocksInFlight),
		cur: newPacketBlock(), ints: new(intBoxes), restore: []string{"PRAGMA foreign_keys = ON"}}
	for range blocksInFlight - 1 {
		w.free <- newPacketBlock()
	}
	go w.run()
	// A statement that may fail part-way keeps a statement journal (to undo
	// just itself); in a temp file that was a third of ingest's writes. The
	// packets' multi-row INSERT needs none (OR FAIL, below); the rest are
	// small: keep it in memory.
	//
	// Foreign keys are checked by the Writer instead of SQLite on this one
	// connection: it only references rounds it started (checked in Go) and
	// ports, which hold every uint16. SQLite's two lookups per packet were a
	// tenth of ingest's CPU. Every other connection keeps them on.
	//
	// Its checkpointer copies the WAL into the file; the commits here
	// checkpoint only past writerCheckpointPages (see checkpointer).
	var pages int64
	if err := conn.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&pages); err != nil {
		w.Close()
		return nil, fmt.Errorf("read wal_autocheckpoint of %s: %w", d.path, err)
	}
	w.restore = append(w.restore, fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", pages))
	for _, pragma := range []string{"PRAGMA temp_store = MEMORY", "PRAGMA foreign_keys = OFF",
		fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", writerCheckpointPages)} {
		if _, err := conn.ExecContext(ctx, pragma); err != nil {
			w.Close()
			return nil, fmt.Errorf("%s on %s: %w", pragma, d.path, err)
		}
	}
	stmts := []struct {
		s    **sql.Stmt
		text string
	}{
		// DO NOTHING keeps the row, pid and process of the first scan that saw
		// it; unlike OR IGNORE it still fails a row that breaks a CHECK.
		{&w.addPort, `INSERT INTO rounds_ports
			(round_id, port_id, timestamp, protocol, family, address, state, pid, process, netns, netns_host, netns_name)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (round_id, port_id, protocol, family, address, state, netns) DO NOTHING`},
		{&w.countScan, "UPDATE rounds SET scans = scans + 1 WHERE id = ?"},
	}
	for _, s := range stmts {
		if *s.s, err = conn.PrepareContext(ctx, s.text); err != nil {
			break
		}
	}
	if err == nil {
		err = w.prepareFused("round", []namedFused{
			{&w.startRound, `INSERT INTO rounds (id, start_time, status, source, local_from, local_addrs)
			VALUES (?, ?, 'running', ?, ?, ?)`},
			{&w.endRound, `UPDATE rounds SET end_time = ?, status = ?, frames = ?, frames_malformed = ?,
			frames_skipped = ?, frames_dropped = ?, frames_bad_time = ? WHERE id = ?`},
		})
	}
	if err == nil {
		w.packets, err = w.newRowInserter("packets", packetColumns, packetsPerInsert)
	}
	if err == nil { // without qry_name, resp_name and payload; then without payload
		err = w.addNarrow(w.packets, packetColumns, 4, 5, 12)
	}
	if err == nil {
		err = w.addNarrow(w.packets, packetColumns, 12)
	}
	if err == nil {
		w.rounds, err = w.newRowInserter("rounds", `id, start_time, end_time, status, source, frames, frames_malformed,
			frames_skipped, frames_dropped, frames_bad_time, local_from, local_addrs`, roundsPerInsert)
	}
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("prepare statements on %s: %w", d.path, err)
	}
	if w.ckpt, err = d.startCheckpointer(ctx); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// prepareQuery prepares text on a driver connection as a statement that runs as a query.
func prepareQuery(ctx context.Context, dc any, text string) (driver.StmtQueryContext, error) {
	p, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, fmt.Errorf("driver connection %T cannot prepare", dc)
	}
	st, err := p.PrepareContext(ctx, text)
	if err != nil {
		return nil, err
	}
	q, ok := st.(driver.StmtQueryContext)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("driver statement %T cannot query", st)
	}
	return q, nil
}

// run executes the statements sent on ops until ops is closed.
func (w *Writer) run() {
	defer close(w.opsEnded)
	for op := range w.ops {
		op()
	}
}

// async has the Writer's goroutine run f after the statements before it,
// unless a write failed.
func (w *Writer) async(f func() error) {
	w.ops <- func() {
		if w.failed() == nil {
			if err := f(); err != nil {
				w.fail(err)
			}
		}
	}
}

// wait returns once the Writer's goroutine has run every statement sent
// so far; until the next async the caller has the connection to itself.
func (w *Writer) wait() {
	done := make(chan struct{})
	w.ops <- func() { close(done) }
	<-done
}

// begin opens the write transaction if none is open, and reads the id the
// next round gets: the one SQLite would give, one past the largest.
func (w *Writer) begin() error {
	if err := w.failed(); err != nil {
		return err
	}
	if w.tx {
		return nil
	}
	w.wait()
	if err := w.beginTx(); err != nil {
		return w.fail(err)
	}
	w.tx = true
	var err error
	if w.nextID, err = w.nextRoundID(); err != nil {
		return w.fail(err)
	}
	return nil
}

// beginTx begins a transaction that holds the write lock from the start.
func (w *Writer) beginTx() error {
	if _, err := w.conn.ExecContext(w.ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	return nil
}

// nextRoundID reads the id the next round stored gets.
func (w *Writer) nextRoundID() (int64, error) {
	var next int64
	if err := w.conn.QueryRowContext(w.ctx, "SELECT coalesce(max(id), 0) + 1 FROM rounds").Scan(&next); err != nil {
		return 0, fmt.Errorf("read the next round id: %w", err)
	}
	return next, nil
}

// commitTx commits the transaction and tells the checkpointer.
func (w *Writer) commitTx() error {
	if _, err := w.conn.ExecContext(w.ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	w.ckpt.committed()
	return nil
}

// fail records err as the Writer's error, unless one came first, and
// returns the Writer's error.
func (w *Writer) fail(err error) error {
	w.err.CompareAndSwap(nil, &err)
	return *w.err.Load()
}

// failed returns the Writer's error: nil unless a write failed.
func (w *Writer) failed() error {
	if e := w.err.Load(); e != nil {
		return *e
	}
	return nil
}

// StartRound starts a running round and returns its id.
func (w *Writer) StartRound(start time.Time, source string) (int64, error) {
	if err := w.begin(); err != nil {
		return 0, err
	}
	id := w.nextID
	w.nextID++
	w.started[id] = true
	w.pending[id] = &pendingRound{start: FormatTime(start), source: source}
	return id, nil
}

// insertPending inserts the pending rounds as running.
func (w *Writer) insertPending() {
	for id, r := range w.pending {
		delete(w.pending, id)
		w.async(func() error {
			if err := w.exec(w.startRound, id, r.start, r.source, r.localFrom, r.localAddrs); err != nil {
				return fmt.Errorf("start round %d: %w", id, err)
			}
			return nil
		})
	}
}

// AddScan stores one occupancy scan taken at at: each socket once per round
// and namespace, and one more scan in rounds.scans. A socket whose namespace
// is not told (Netns.Inode 0: a scanner that sees only its own) is stored as
// the host's, as rows from before namespaces were scanned are.
func (w *Writer) AddScan(round int64, at time.Time, socks []sock.Socket) error {
	if err := w.check(round); err != nil {
		return err
	}
	w.insertPending()
	w.wait() // live rounds, one scan a second: its error comes back at once
	// The UPDATE below needs the round's row, which is buffered were it ended.
	if err := w.rounds.flush(w); err != nil {
		return w.fail(err)
	}
	ts := FormatTime(at)
	for _, p := range socks {
		host := int64(0)
		if p.Netns.Host || p.Netns.Inode == 0 {
			host = 1
		}
		_, err := w.addPort.ExecContext(w.ctx, round, int64(p.Port), ts, p.Protocol.String(), int64(p.Family), p.Address.String(), p.State.String(),
			nullInt(p.PID, 0), nullString(p.Process), int64(p.Netns.Inode), host, nullString(p.Netns.Name))
		if err != nil {
			return w.fail(fmt.Errorf("store port %s/%d %s: %w", p.Protocol, p.Port, p.State, err))
		}
	}
	if _, err := w.countScan.ExecContext(w.ctx, round); err != nil {
		return w.fail(fmt.Errorf("count scan of round %d: %w", round, err))
	}
	return nil
}

// AddPacket buffers p for round and has a full batch inserted; Commit
// inserts the rest.
func (w *Writer) AddPacket(round int64, p *packet.Packet) error {
	if err := w.check(round); err != nil {
		return err
	}
	b := w.cur
	a := b.args[b.rows*numPacketColumns : (b.rows+1)*numPacketColumns]
	a[0].Value = w.roundArg
	a[1].Value = p.Frame
	b.stamps = w.stamp.append(b.stamps, p.Time) // a[2], made a string per batch
	b.stampEnds[b.rows] = len(b.stamps)
	if s, ok := w.protoArg.(string); !ok || s != p.Protocols {
		w.protoArg = p.Protocols
	}
	a[3].Value = w.protoArg
	a[4].Value = w.strs.box(p.QryName)
	a[5].Value = w.strs.box(p.RespName)
	a[6].Value = w.ints.box(int(p.SrcPort))
	a[7].Value = w.ints.box(int(p.DstPort))
	a[8].Value = w.strs.box(p.SrcIP)
	a[9].Value = w.strs.box(p.DstIP)
	a[10].Value = w.ints.box(p.Length)
	a[11].Value = nil
	if p.TCPFlags != -1 {
		a[11].Value = w.ints.box(p.TCPFlags)
	}
	a[12].Value = nil
	if p.Payload != nil {
		// Earlier rows keep their slices of an outgrown arena, whose
		// bytes were copied when they were added.
		start := len(b.arena)
		b.arena = append(b.arena, p.Payload...)
		a[12].Value = b.arena[start:len(b.arena):len(b.arena)]
	}
	b.rows++
	if b.rows < packetsPerBlock {
		return nil
	}
	b.setTimestamps()
	b.pack(w.packets)
	frame := p.Frame
	// The block goes back to free whether or not it was inserted, so the
	// next AddPacket never waits for ever.
	w.ops <- func() {
		if w.failed() == nil {
			if err := b.insert(w); err != nil {
				w.fail(fmt.Errorf("insert packets up to frame %d: %w", frame, err))
			}
		}
		b.reset()
		w.free <- b
	}
	w.cur = <-w.free
	return w.failed()
}

// pack readies a full block's INSERTs, on the caller's goroutine: the
// Writer's is ingest's bottleneck, and choosing and packing its narrow
// INSERTs' arguments was a tenth of its own Go time.
func (b *packetBlock) pack(r *rowInserter) {
	chunk := packetsPerInsert * numPacketColumns
	for i := range b.stmts {
		b.stmts[i], b.bound[i] = r.pack(b.args[i*chunk : (i+1)*chunk])
	}
}

// insert runs the INSERTs pack readied.
func (b *packetBlock) insert(w *Writer) error {
	chunk := packetsPerInsert * numPacketColumns
	for i, q := range b.stmts {
		if err := w.runQuery(q, b.args[i*chunk:i*chunk+b.bound[i]]); err != nil {
			return err
		}
	}
	return nil
}

// setTimestamps converts the buffered packets' timestamps to one string, whose
// slices become their arguments: one allocation per batch, not per packet.
func (b *packetBlock) setTimestamps() {
	all, start := string(b.stamps), 0
	for i, end := range b.stampEnds[:b.rows] {
		b.args[i*numPacketColumns+2].Value = all[start:end]
		start = end
	}
}

// runQuery runs q with args to completion on the driver connection, inside
// Raw as database/sql requires: through database/sql every call would copy
// and convert its arguments (832 for a multi-row INSERT of packets). It runs
// as a query because go-sqlite3 binds a query's arguments and takes its
// first step in one cgo call instead of one per argument. An INSERT runs to
// completion in that first step, which the one Next guarantees whether the
// driver steps at Query or at Next.
func (w *Writer) runQuery(q driver.StmtQueryContext, args []driver.NamedValue) error {
	return w.conn.Raw(func(any) error {
		rows, err := q.QueryContext(w.ctx, args)
		if err != nil {
			return err
		}
		if err := rows.Next(w.noRow); err != nil && err != io.EOF {
			rows.Close()
			return err
		}
		return rows.Close()
	})
}

// fusedStmt is a statement of the Writer's goroutine, run by runQuery:
// binding through database/sql took one cgo call per argument.
type fusedStmt struct {
	q    driver.StmtQueryContext
	args []driver.NamedValue
}

// prepareFused prepares the statements into their *fusedStmt; when one
// fails, those prepared before it are closed again.
func (w *Writer) prepareFused(what string, stmts []namedFused) error {
	for i, s := range stmts {
		var q driver.StmtQueryContext
		err := w.conn.Raw(func(dc any) (err error) {
			q, err = prepareQuery(w.ctx, dc, s.text)
			return err
		})
		if err != nil {
			for _, done := range stmts[:i] {
				w.closeFused(*done.s)
			}
			return w.fail(fmt.Errorf("prepare %s statements: %w", what, err))
		}
		*s.s = &fusedStmt{q: q}
	}
	return nil
}

// namedFused is a statement to prepare into *s.
type namedFused struct {
	s    **fusedStmt
	text string
}

// exec runs s with vals, which must be driver values (int64, not int).
func (w *Writer) exec(s *fusedStmt, vals ...any) error {
	if len(s.args) != len(vals) {
		s.args = make([]driver.NamedValue, len(vals))
		for i := range s.args {
			s.args[i].Ordinal = i + 1
		}
	}
	for i, v := range vals {
		s.args[i].Value = v
	}
	return w.runQuery(s.q, s.args)
}

func (w *Writer) closeFused(stmts ...*fusedStmt) {
	for _, s := range stmts {
		if s != nil {
			w.conn.Raw(func(any) error { return s.q.(driver.Stmt).Close() })
		}
	}
}

// flushRows inserts the packets buffered since the last full block, and
// the rows of rounds and their traffic summaries buffered since their last
// full INSERT, b's packets being the former. Call it on the Writer's
// goroutine or after wait.
func (w *Writer) flushRows(b *packetBlock) error {
	b.setTimestamps()
	err := w.packets.insert(w, b.args[:b.rows*numPacketColumns])
	b.reset()
	if err != nil {
		return w.fail(fmt.Errorf("insert the last packets: %w", err))
	}
	for _, r := range w.roundRows() {
		if err := r.flush(w); err != nil {
			return w.fail(err)
		}
	}
	return nil
}

// roundRows returns the inserters of rows per round: rounds, then its
// traffic summary's tables once prepared.
func (w *Writer) roundRows() []*rowInserter {
	if w.traffic == nil {
		return []*rowInserter{w.rounds}
	}
	t := w.traffic
	return []*rowInserter{w.rounds, t.round, t.port, t.source, t.dns}
}

// EndRound sets a round's end time, status and frame counts.
func (w *Writer) EndRound(round int64, end time.Time, status Status, c Counts) error {
	if err := w.check(round); err != nil {
		return err
	}
	ts := FormatTime(end)
	r := w.pending[round]
	delete(w.pending, round)
	w.async(func() error {
		var err error
		if r != nil {
			err = w.rounds.add(w, round, r.start, ts, string(status), r.source, c.Frames, c.Malformed, c.Skipped,
				c.Dropped, c.BadTime, r.localFrom, r.localAddrs)
		} else if err = w.rounds.flush(w); err == nil { // the round's row may be buffered
			err = w.exec(w.endRound, ts, string(status), c.Frames, c.Malformed, c.Skipped, c.Dropped, c.BadTime, round)
		}
		if err != nil {
			return fmt.Errorf("end round %d as %s: %w", round, status, err)
		}
		return nil
	})
	return w.failed()
}

// Commit stores everything written so far for good, once the statements
// before it have run; it returns the first that failed.
func (w *Writer) Commit() error {
	if err := w.failed(); err != nil {
		return err
	}
	w.insertPending()
	w.wait()
	if err := w.failed(); err != nil {
		return err
	}
	if !w.tx {
		return nil
	}
	if err := w.flushRows(w.cur); err != nil {
		return err
	}
	if err := w.commitTx(); err != nil {
		return w.fail(err)
	}
	w.tx = false
	return nil
}

// CommitAsync is Commit on the Writer's goroutine, which then begins the
// next transaction: the caller goes on meanwhile, and a failure is
// returned by a later call, at the latest by Commit. For the periodic
// commits of a long ingest, whose main goroutine stood still for the
// COMMIT (10 ms, writing the page cache's dirty pages to the WAL).
func (w *Writer) CommitAsync() error {
	if err := w.failed(); err != nil || !w.tx {
		return err
	}
	w.insertPending()
	b, nextID := w.cur, w.nextID
	w.cur = <-w.free
	w.ops <- func() {
		if w.failed() == nil {
			if err := w.commitAndBegin(b, nextID); err != nil {
				w.fail(err)
			}
		}
		b.reset()
		w.free <- b
	}
	return w.failed()
}

// commitAndBegin commits, with the rows buffered (b's packets among them),
// and begins the next transaction. nextID, the caller's next round id when
// it asked, stays the one StartRound gives: only this Writer inserts rounds
// (collect holds its run lock) and its rounds are all stored by now, so no
// round has that id or a larger one (cleanup may have deleted some below).
func (w *Writer) commitAndBegin(b *packetBlock, nextID int64) error {
	if err := w.flushRows(b); err != nil {
		return err
	}
	if err := w.commitTx(); err != nil {
		return err
	}
	if err := w.beginTx(); err != nil {
		return err
	}
	next, err := w.nextRoundID()
	if err != nil {
		return err
	}
	if next > nextID {
		return fmt.Errorf("rounds stored by another program while this one writes: next round id %d, want %d", next, nextID)
	}
	return nil
}

// Close commits what is pending, unless a write failed, and releases the
// connection. It returns the first error the Writer met.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.Commit()
	close(w.ops)
	<-w.opsEnded
	// Calls after Close fail before they reach the goroutine that is gone.
	w.fail(errClosed)
	// Only a failed write leaves a transaction open; undo its partial batch.
	// SQLite itself rolls back on some failures (a full disk during COMMIT):
	// then there is nothing left to undo.
	if w.tx && w.inTransaction() {
		if _, rerr := w.conn.ExecContext(w.ctx, "ROLLBACK"); rerr != nil && !errors.Is(err, rerr) {
			err = errors.Join(err, fmt.Errorf("roll back: %w", rerr))
		}
	}
	w.closeStmts()
	if w.ckpt != nil {
		if cerr := w.ckpt.stop(); cerr != nil && err == nil {
			err = cerr
		}
	}
	// The connection goes back to the pool as it came: foreign keys on again.
	for _, pragma := range w.restore {
		if _, perr := w.conn.ExecContext(w.ctx, pragma); perr != nil && err == nil {
			err = fmt.Errorf("restore %s: %w", pragma, perr)
		}
	}
	if cerr := w.conn.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close connection: %w", cerr)
	}
	return err
}

// inTransaction asks SQLite whether the connection is inside a transaction.
func (w *Writer) inTransaction() bool {
	in := true
	w.conn.Raw(func(c any) error {
		if sc, ok := c.(*sqlite3.SQLiteConn); ok {
			in = !sc.AutoCommit()
		}
		return nil
	})
	return in
}

func (w *Writer) closeStmts() {
	w.closeFused(w.startRound, w.endRound)
	w.packets.close(w)
	w.rounds.close(w)
	for _, s := range []*sql.Stmt{w.addPort, w.countScan} {
		if s != nil {
			s.Close()
		}
	}
	w.traffic.close(w)
	w.capture.close()
}

// MarkInterrupted ends every round still running, left by a run that was
// killed, as interrupted: end time from its last stored packet or scan,
// frames from its stored packets. Call it holding the run lock, before
// starting rounds. It returns how many rounds it marked.
func (d *DB) MarkInterrupted(ctx context.Context) (int64, error) {
	res, err := d.db.ExecContext(ctx, `
UPDATE rounds SET status = 'interrupted',
	end_time = coalesce(end_time, max(
		coalesce((SELECT max(timestamp) FROM packets WHERE round_id = rounds.id), start_time),
		coalesce((SELECT max(timestamp) FROM rounds_ports WHERE round_id = rounds.id), start_time))),
	frames = max(frames, (SELECT count(*) FROM packets WHERE round_id = rounds.id))
WHERE status = 'running'`)
	if err != nil {
		return 0, fmt.Errorf("mark running rounds of %s interrupted: %w", d.path, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("mark running rounds of %s interrupted: %w", d.path, err)
	}
	return n, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullInt(v, null int) any {
	if v == null {
		return nil
	}
	return int64(v)
}
