package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"portwatch/pkg/packet"
	"portwatch/pkg/sock"
	"portwatch/pkg/store"
	"portwatch/pkg/store/storetest"
	"portwatch/pkg/traffic"
)

// startRound starts a round at t0 from source.
func startRound(t testing.TB, w *store.Writer, source string) int64 {
	t.Helper()
	id, err := w.StartRound(t0, source)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func newWriter(t testing.TB, db *store.DB) *store.Writer {
	t.Helper()
	w, err := db.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestAddScanStoresEachPortOncePerRound(t *testing.T) {
	db, _ := storetest.New(t)
	w := newWriter(t, db)
	id := startRound(t, w, "live")
	ssh := sock.Socket{Port: 22, Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr("0.0.0.0"), State: sock.Listen, PID: 10, Process: "sshd"}
	dns := sock.Socket{Port: 53, Protocol: sock.UDP, Family: 6, Address: netip.MustParseAddr("::"), State: sock.Unconn}
	// The second scan sees sshd under another pid: the first scan's pid stays.
	sshLater := ssh
	sshLater.PID, sshLater.Process = 11, "sshd-new"
	scans := [][]sock.Socket{{ssh, dns}, {sshLater, dns}, {sshLater}}
	for i, s := range scans {
		if err := w.AddScan(id, t0.Add(time.Duration(i)*time.Second), s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.EndRound(id, t0.Add(5*time.Second), store.Complete, store.Counts{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := dumpPorts(t, db)
	want := "22 tcp 4 0.0.0.0 listen 10 sshd 2026-11-21T10:00:00.000000Z\n" +
		"53 udp 6 :: unconn <nil> <nil> 2026-11-21T10:00:00.000000Z\n"
	if got != want {
		t.Errorf("rounds_ports =\n%s\nwant\n%s", got, want)
	}
	if got := storetest.Int(t, db, "SELECT scans FROM rounds WHERE id = ?", id); got != int64(len(scans)) {
		t.Errorf("scans = %d, want %d", got, len(scans))
	}
	storetest.Integrity(t, db)
}

func dumpPorts(t *testing.T, db *store.DB) string {
	t.Helper()
	rows, err := storetest.Raw(t, db).Query(`SELECT port_id, protocol, family, address, state, pid, process, timestamp
		FROM rounds_ports ORDER BY port_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b bytes.Buffer
	for rows.Next() {
		var port, family int
		var proto, addr, state, ts string
		var pid, process any
		if err := rows.Scan(&port, &proto, &family, &addr, &state, &pid, &process, &ts); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, port, proto, family, addr, state, pid, process, ts)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// packet returns frame n of a made-up capture; every third has a payload.
func newPacket(n int64, payload []byte) *packet.Packet {
	p := &packet.Packet{
		Frame: n, Time: t0.Add(time.Duration(n) * time.Millisecond), Length: 60 + int(n),
		Protocols: "eth:ipv4:udp:dns", SrcIP: "10.0.0.1", DstIP: "10.0.0.2",
		SrcPort: uint16(40000 + n), DstPort: 53, TCPFlags: -1, QryName: fmt.Sprintf("q%d.example", n),
	}
	if n%3 == 0 {
		p.Protocols, p.QryName, p.TCPFlags, p.DstPort = "eth:ipv4:tcp", "", int(n%512), 443
		p.Payload = payload
	}
	return p
}

func TestAddPacketBatchesAndKeepsOrder(t *testing.T) {
	for _, n := range []int64{0, 1, 63, 64, 65, 200} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			db, _ := storetest.New(t)
			w := newWriter(t, db)
			id := startRound(t, w, "pcap:test.pcap")
			buf := make([]byte, 4)
			for i := int64(1); i <= n; i++ {
				// One buffer reused for every payload, as capture does.
				copy(buf, fmt.Sprintf("%04d", i))
				if err := w.AddPacket(id, newPacket(i, buf)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.EndRound(id, t0.Add(time.Second), store.Complete, store.Counts{Frames: n}); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			rows, err := storetest.Raw(t, db).Query(`SELECT id, frame, timestamp, protocols, qry_name, resp_name, port_id, dest_port,
				src_ip, dst_ip, length, tcp_flags, payload FROM packets ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var count, lastID int64
			for rows.Next() {
				var id, frame, length, sport, dport int64
				var ts, protos, src, dst string
				var qry, resp, flags, payload any
				if err := rows.Scan(&id, &frame, &ts, &protos, &qry, &resp, &sport, &dport, &src, &dst, &length, &flags, &payload); err != nil {
					t.Fatal(err)
				}
				count++
				if id <= lastID {
					t.Errorf("packet id %d after %d: ids must grow with frames", id, lastID)
				}
				lastID = id
				want := newPacket(frame, []byte(fmt.Sprintf("%04d", frame)))
				got := packet.Packet{Frame: frame, Protocols: protos, SrcIP: src, DstIP: dst, SrcPort: uint16(sport),
					DstPort: uint16(dport), Length: int(length), TCPFlags: -1}
				if frame != count {
					t.Errorf("row %d holds frame %d", count, frame)
				}
				if got.Time, err = store.ParseTime(ts); err != nil {
					t.Fatal(err)
				}
				if q, ok := qry.(string); ok {
					got.QryName = q
				}
				if f, ok := flags.(int64); ok {
					got.TCPFlags = int(f)
				}
				if p, ok := payload.([]byte); ok {
					got.Payload = p
				}
				if resp != nil {
					t.Errorf("frame %d resp_name = %v, want NULL", frame, resp)
				}
				if fmt.Sprint(got) != fmt.Sprint(*want) {
					t.Errorf("frame %d stored as\n%+v\nwant\n%+v", frame, got, *want)
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if count != n {
				t.Errorf("packets = %d, want %d", count, n)
			}
			if got := storetest.Int(t, db, "SELECT frames FROM rounds WHERE id = ?", id); got != n {
				t.Errorf("rounds.frames = %d, want %d", got, n)
			}
			storetest.Integrity(t, db)
		})
	}
}

func TestFailedWriteKeepsCommittedRows(t *testing.T) {
	db, _ := storetest.New(t)
	w := newWriter(t, db)
	id := startRound(t, w, "live")
	for i := int64(1); i <= 10; i++ {
		if err := w.AddPacket(id, newPacket(i, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	for i := int64(11); i <= 20; i++ {
		if err := w.AddPacket(id, newPacket(i, nil)); err != nil {
			t.Fatal(err)
		}
	}
	// SQLite rejects the protocol (CHECK constraint): a real failed write.
	if err := w.AddScan(id, t0, []sock.Socket{{Port: 80, Protocol: sock.Protocol(132), Family: 4, Address: netip.MustParseAddr("0.0.0.0"), State: sock.Listen}}); err == nil {
		t.Fatal("a port with protocol 132 (sctp) was accepted")
	}
	if err := w.EndRound(id, t0, store.Complete, store.Counts{}); err == nil {
		t.Error("EndRound after a failed write succeeded, want the first error again")
	}
	if err := w.Close(); err == nil {
		t.Error("Close after a failed write succeeded, want the error")
	}
	if got := storetest.Int(t, db, "SELECT count(*) FROM packets"); got != 10 {
		t.Errorf("packets after failed write = %d, want the 10 committed", got)
	}
	if got := storetest.Int(t, db, "SELECT count(*) FROM rounds WHERE status = 'running'"); got != 1 {
		t.Errorf("running rounds = %d, want 1", got)
	}
	storetest.Integrity(t, db)
}

func TestWriterRejectsRoundsItDidNotStart(t *testing.T) {
	db, _ := storetest.New(t)
	first := newWriter(t, db)
	id, err := first.StartRound(t0, "live")
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	w := newWriter(t, db)
	defer w.Close()
	for _, round := range []int64{id, id + 1, 0, -1} {
		if err := w.AddPacket(round, newPacket(1, nil)); !errors.Is(err, store.ErrUnknownRound) {
			t.Errorf("AddPacket(round %d) = %v, want ErrUnknownRound", round, err)
		}
		if err := w.AddScan(round, t0, nil); !errors.Is(err, store.ErrUnknownRound) {
			t.Errorf("AddScan(round %d) = %v, want ErrUnknownRound", round, err)
		}
		if err := w.EndRound(round, t0, store.Complete, store.Counts{}); !errors.Is(err, store.ErrUnknownRound) {
			t.Errorf("EndRound(round %d) = %v, want ErrUnknownRound", round, err)
		}
	}
}

func TestMarkInterrupted(t *testing.T) {
	db, _ := storetest.New(t)
	w := newWriter(t, db)
	done := startRound(t, w, "live")
	if err := w.EndRound(done, t0.Add(time.Minute), store.Complete, store.Counts{Frames: 0}); err != nil {
		t.Fatal(err)
	}
	killed, err := w.StartRound(t0.Add(time.Minute), "live")
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(1); i <= 3; i++ {
		p := newPacket(i, nil)
		p.Time = t0.Add(time.Minute + time.Duration(i)*time.Second)
		if err := w.AddPacket(killed, p); err != nil {
			t.Fatal(err)
		}
	}
	empty, err := w.StartRound(t0.Add(2*time.Minute), "live")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	n, err := db.MarkInterrupted(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("MarkInterrupted marked %d rounds, want 2", n)
	}
	for _, c := range []struct {
		id          int64
		status, end string
		frames      int64
	}{
		{done, "complete", "2026-11-21T10:01:00.000000Z", 0},
		{killed, "interrupted", "2026-11-21T10:01:03.000000Z", 3},
		{empty, "interrupted", "2026-11-21T10:02:00.000000Z", 0},
	} {
		var status, end string
		var frames int64
		if err := storetest.Raw(t, db).QueryRow("SELECT status, end_time, frames FROM rounds WHERE id = ?", c.id).Scan(&status, &end, &frames); err != nil {
			t.Fatal(err)
		}
		if status != c.status || end != c.end || frames != c.frames {
			t.Errorf("round %d = %s %s %d frames, want %s %s %d", c.id, status, end, frames, c.status, c.end, c.frames)
		}
	}
	if n, err := db.MarkInterrupted(t.Context()); err != nil || n != 0 {
		t.Errorf("second MarkInterrupted = %d, %v; want 0, nil", n, err)
	}
	storetest.Integrity(t, db)
}

// BenchmarkAddPacket measures the store's share of pcap ingest: rows into a
// new file, committed every 65,536 rows as collect --pcap does.
func BenchmarkAddPacket(b *testing.B) {
	db, _ := storetest.New(b)
	w := newWriter(b, db)
	id := startRound(b, w, "bench")
	pkts := make([]*packet.Packet, 1024)
	for i := range pkts {
		pkts[i] = newPacket(int64(i+1), nil)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := w.AddPacket(id, pkts[i%len(pkts)]); err != nil {
			b.Fatal(err)
		}
		if i%(1<<16) == 1<<16-1 {
			if err := w.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// TestWriterLeavesForeignKeysOn checks the connection a Writer hands back
// to the pool enforces foreign keys again, as cleanup's cascades need.
func TestWriterLeavesForeignKeysOn(t *testing.T) {
	db, _ := storetest.New(t)
	storetest.Raw(t, db).SetMaxOpenConns(1) // the Writer's connection is the one reused next
	w := newWriter(t, db)
	startRound(t, w, "live")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := storetest.Int(t, db, "PRAGMA foreign_keys"); got != 1 {
		t.Errorf("foreign_keys after a Writer = %d, want 1", got)
	}
}

// TestRoundsAcrossCommits checks a round is stored alike whether a commit
// falls inside it (inserted running, then updated) or not (one INSERT at
// its end), and that no commit holds packets without their round; the
// commit is Commit or CommitAsync, which takes the part-filled block of
// packets with it.
func TestRoundsAcrossCommits(t *testing.T) {
	for _, commit := range []string{"none", "Commit", "CommitAsync"} {
		t.Run(commit, func(t *testing.T) {
			db, _ := storetest.New(t)
			w := newWriter(t, db)
			id := startRound(t, w, "pcap:x")
			add := func(from, to int64) {
				t.Helper()
				for i := from; i <= to; i++ {
					if err := w.AddPacket(id, newPacket(i, nil)); err != nil {
						t.Fatal(err)
					}
				}
			}
			add(1, 100)
			switch commit {
			case "Commit":
				if err := w.Commit(); err != nil {
					t.Fatal(err)
				}
				if got := storetest.Int(t, db, "SELECT count(*) FROM rounds WHERE id = ? AND status = 'running'", id); got != 1 {
					t.Errorf("committed round %d running: %d rows, want 1", id, got)
				}
				storetest.Integrity(t, db)
			case "CommitAsync":
				if err := w.CommitAsync(); err != nil {
					t.Fatal(err)
				}
			}
			add(101, 400) // past a full block
			sum := &traffic.Summary{Local: traffic.Local{From: traffic.FromFlag,
				Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, Packets: 400}
			if err := w.AddTraffic(id, sum); err != nil {
				t.Fatal(err)
			}
			if err := w.EndRound(id, t0.Add(time.Second), store.Complete, store.Counts{Frames: 400, Malformed: 2, BadTime: 1}); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			var got string
			if err := storetest.Raw(t, db).QueryRow(`SELECT concat_ws(' ', id, start_time, end_time, status, source, scans,
				frames, frames_malformed, frames_skipped, frames_dropped, frames_bad_time, local_from, local_addrs)
				FROM rounds`).Scan(&got); err != nil {
				t.Fatal(err)
			}
			want := "1 2026-11-21T10:00:00.000000Z 2026-11-21T10:00:01.000000Z complete pcap:x 0 400 2 0 0 1 flag 10.0.0.0/8"
			if got != want {
				t.Errorf("round = %q, want %q", got, want)
			}
			if got := storetest.Int(t, db, "SELECT count(*) FROM packets WHERE frame = id"); got != 400 {
				t.Errorf("packets in order = %d, want 400", got)
			}
			storetest.Integrity(t, db)
		})
	}
}

// TestCommitAsyncFailureComesBackLater checks a CommitAsync whose
// transaction holds a refused statement fails the Writer: the next calls
// and Close return the error, and nothing of the transaction is stored.
func TestCommitAsyncFailureComesBackLater(t *testing.T) {
	db, _ := storetest.New(t)
	w := newWriter(t, db)
	id := startRound(t, w, "pcap:x")
	for i := int64(1); i <= 10; i++ {
		if err := w.AddPacket(id, newPacket(i, nil)); err != nil {
			t.Fatal(err)
		}
	}
	_ = w.EndRound(id, t0, store.Status("bogus"), store.Counts{}) // may fail now or later
	_ = w.CommitAsync()
	if err := w.Commit(); err == nil {
		t.Fatal("Commit after a refused round and CommitAsync succeeded, want the error")
	}
	if err := w.Close(); err == nil {
		t.Error("Close after a failed write succeeded, want the error")
	}
	if got := storetest.Count(t, db, "packets"); got != 0 {
		t.Errorf("packets = %d, want none of the failed transaction", got)
	}
	storetest.Integrity(t, db)
}

// TestLaterFailureComesBackByCommit checks a statement that fails on the
// Writer's goroutine (a status the CHECK refuses) fails Commit and Close,
// and that nothing of its transaction is stored.
func TestLaterFailureComesBackByCommit(t *testing.T) {
	db, _ := storetest.New(t)
	w := newWriter(t, db)
	first := startRound(t, w, "pcap:x")
	if err := w.EndRound(first, t0, store.Complete, store.Counts{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	id := startRound(t, w, "pcap:x")
	for i := int64(1); i <= 200; i++ {
		if err := w.AddPacket(id, newPacket(i, nil)); err != nil {
			t.Fatal(err)
		}
	}
	_ = w.EndRound(id, t0, store.Status("bogus"), store.Counts{}) // may fail now or later
	if err := w.Commit(); err == nil {
		t.Fatal("Commit after a refused round succeeded, want the error")
	}
	if _, err := w.StartRound(t0, "pcap:x"); err == nil {
		t.Error("StartRound after a failed write succeeded, want the first error again")
	}
	if err := w.Close(); err == nil {
		t.Error("Close after a failed write succeeded, want the error")
	}
	if got := storetest.Count(t, db, "packets"); got != 0 {
		t.Errorf("packets = %d, want none of the failed transaction", got)
	}
	if got := storetest.Count(t, db, "rounds"); got != 1 {
		t.Errorf("rounds = %d, want the one committed", got)
	}
	storetest.Integrity(t, db)
}

// TestWriterCheckpointsItsCommits checks the Writer's checkpointer copies
// committed frames into the database file before the database is closed:
// 20,000 packets are far below the WAL size at which the commit itself
// checkpoints, so only the checkpointer can have grown the file.
func TestWriterCheckpointsItsCommits(t *testing.T) {
	db, path := storetest.New(t)
	before := fileSize(t, path)
	w := newWriter(t, db)
	id := startRound(t, w, "pcap:a.pcap")
	for n := int64(1); n <= 20000; n++ {
		if err := w.AddPacket(id, newPacket(n, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // waits for the checkpoint the commit asked for
		t.Fatal(err)
	}
	if grown := fileSize(t, path) - before; grown < 1<<20 {
		t.Errorf("database file grew by %d bytes before close, want the packets' 1 MiB and more", grown)
	}
	if got := storetest.Int(t, db, "SELECT count(*) FROM packets"); got != 20000 {
		t.Errorf("packets = %d, want 20000", got)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
