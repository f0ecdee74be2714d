package cleanup_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"portwatch/pkg/cleanup"
	"portwatch/pkg/packet"
	"portwatch/pkg/runerr"
	"portwatch/pkg/sock"
	"portwatch/pkg/store"
	"portwatch/pkg/store/storetest"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// round describes one round the test writes through the real store writer.
type round struct {
	age     time.Duration
	status  store.Status
	scored  bool
	anomaly time.Duration // age of an anomaly on it; 0: none
	packets int
}

// fill writes rounds (ids 1..n in order) with one port row each and the
// given packets, scores and anomalies.
func fill(t testing.TB, db *store.DB, rounds []round) {
	t.Helper()
	w, err := db.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rounds {
		start := now.Add(-r.age)
		id, err := w.StartRound(start, "live")
		if err != nil {
			t.Fatal(err)
		}
		if id != int64(i+1) {
			t.Fatalf("round id %d, want %d", id, i+1)
		}
		if err := w.AddScan(id, start, []sock.Socket{{Port: 22, Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr("0.0.0.0"), State: sock.Listen}}); err != nil {
			t.Fatal(err)
		}
		for f := range r.packets {
			p := packet.Packet{Frame: int64(f + 1), Time: start, Length: 1500, Protocols: "eth:ipv4:tcp",
				SrcIP: "192.0.2.1", DstIP: "192.0.2.2", SrcPort: uint16(40000 + f%20000), DstPort: 443, TCPFlags: 16}
			if err := w.AddPacket(id, &p); err != nil {
				t.Fatal(err)
			}
		}
		if r.status != store.Running {
			status := r.status
			if status == "" {
				status = store.Complete
			}
			if err := w.EndRound(id, start.Add(55*time.Second), status, store.Counts{Frames: int64(r.packets)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sqlDB := storetest.Raw(t, db)
	if _, err := sqlDB.Exec(`INSERT INTO batches (id, timestamp, alg) VALUES (1, ?, 'portae-v1')`, store.FormatTime(now)); err != nil {
		t.Fatal(err)
	}
	for i, r := range rounds {
		id := i + 1
		if r.scored {
			if _, err := sqlDB.Exec(`INSERT INTO batches_rounds (batch_id, round_id, score) VALUES (1, ?, 0.5)`, id); err != nil {
				t.Fatal(err)
			}
		}
		if r.anomaly > 0 {
			if _, err := sqlDB.Exec(`INSERT INTO anomalies (round_id, round_start, detected_at, score, threshold, model, detail)
VALUES (?, ?, ?, 9, 3, 'portae.onnx', '{"ports":[{"port":22,"protocol":"tcp","state":"listen","error":1}]}')`,
				id, store.FormatTime(now.Add(-r.age)), store.FormatTime(now.Add(-r.anomaly))); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func count(t testing.TB, db *store.DB, query string) int64 {
	t.Helper()
	var n int64
	if err := storetest.Raw(t, db).QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func roundIDs(t testing.TB, db *store.DB) []int64 {
	t.Helper()
	rows, err := storetest.Raw(t, db).Query(`SELECT id FROM rounds ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

var defaults = cleanup.Options{Keep: 7 * day, KeepAnomalies: 90 * day, Now: now}

func TestRules(t *testing.T) {
	db, _ := storetest.New(t)
	fill(t, db, []round{
		{age: 10 * day, scored: true, packets: 3},                // 1: stale and scored: goes
		{age: 10 * day, packets: 2},                              // 2: stale, never scored: stays until 14 days
		{age: 20 * day, packets: 1},                              // 3: never scored but past twice keep: goes
		{age: 10 * day, scored: true, anomaly: 10 * day},         // 4: its anomaly still lives: stays
		{age: 100 * day, scored: true, anomaly: 100 * day},       // 5: anomaly expired: both go
		{age: 1 * day, scored: true, packets: 4},                 // 6: young: stays
		{age: 30 * day, status: store.Running},                   // 7: still running: never touched
		{age: 30 * day, status: store.Interrupted, scored: true}, // 8: interrupted and stale: goes
	})
	rep, err := cleanup.Clean(context.Background(), db, defaults)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := roundIDs(t, db), []int64{2, 4, 6, 7}; !slices.Equal(got, want) {
		t.Errorf("rounds left %v, want %v", got, want)
	}
	want := cleanup.Report{Deleted: store.Deleted{Rounds: 4, RoundsPorts: 4, Packets: 4, Anomalies: 1, Batches: 0}}
	if rep.Rounds != want.Rounds || rep.RoundsPorts != want.RoundsPorts || rep.Packets != want.Packets || rep.Anomalies != want.Anomalies {
		t.Errorf("report %+v, want counts %+v", rep, want)
	}
	if got := count(t, db, `SELECT count(*) FROM packets`); got != 2+4 {
		t.Errorf("packets left %d, want 6 (rounds 2 and 6)", got)
	}
	if got := count(t, db, `SELECT count(*) FROM rounds_ports WHERE round_id NOT IN (SELECT id FROM rounds)`); got != 0 {
		t.Errorf("%d orphaned rounds_ports rows", got)
	}
	if got := count(t, db, `SELECT count(*) FROM anomaly_ports`); got != 1 {
		t.Errorf("anomaly_ports shows %d rows, want the live anomaly's one port", got)
	}
	storetest.Integrity(t, db)
}

func TestEmptyAndTinyDatabases(t *testing.T) {
	tests := []struct {
		name   string
		rounds []round
		left   int
	}{
		{"no rounds", nil, 0},
		{"one stale round", []round{{age: 30 * day, scored: true}}, 0},
		{"one fresh round", []round{{age: time.Hour, scored: true}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := storetest.New(t)
			fill(t, db, tt.rounds)
			rep, err := cleanup.Clean(context.Background(), db, defaults)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(roundIDs(t, db)); got != tt.left {
				t.Errorf("%d rounds left, want %d (report %v)", got, tt.left, rep)
			}
			if want := int64(len(tt.rounds) - tt.left); rep.Rounds != want {
				t.Errorf("report says %d rounds deleted, want %d", rep.Rounds, want)
			}
			// With no round left the empty batch goes too.
			if tt.left == 0 && len(tt.rounds) > 0 && rep.Batches != 1 {
				t.Errorf("report says %d batches deleted, want 1", rep.Batches)
			}
			storetest.Integrity(t, db)
		})
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	db, _ := storetest.New(t)
	fill(t, db, []round{{age: 30 * day, scored: true, packets: 2000}, {age: time.Hour, scored: true, packets: 10}})
	snapshot := func() string {
		return fmt.Sprint(roundIDs(t, db), count(t, db, `SELECT count(*) FROM packets`), count(t, db, `SELECT count(*) FROM batches`))
	}
	before := snapshot()
	dry := defaults
	dry.DryRun = true
	would, err := cleanup.Clean(context.Background(), db, dry)
	if err != nil {
		t.Fatal(err)
	}
	if after := snapshot(); after != before {
		t.Fatalf("dry run changed the database: before %s, after %s", before, after)
	}
	if would.BytesFreed <= 0 {
		t.Errorf("dry run estimates %d bytes freed, want > 0 for 2000 packets", would.BytesFreed)
	}
	did, err := cleanup.Clean(context.Background(), db, defaults)
	if err != nil {
		t.Fatal(err)
	}
	if would.Rounds != did.Rounds || would.Packets != did.Packets || would.RoundsPorts != did.RoundsPorts {
		t.Errorf("dry run said %v, real run did %v", would, did)
	}
}

func TestFileShrinks(t *testing.T) {
	db, path := storetest.New(t)
	rounds := make([]round, 20)
	for i := range rounds {
		rounds[i] = round{age: time.Duration(30-i) * day, scored: true, packets: 2000}
	}
	rounds[19].age = time.Hour
	fill(t, db, rounds)
	if _, err := storetest.Raw(t, db).Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	rep, err := cleanup.Clean(context.Background(), db, defaults)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if rep.BytesAfter != st.Size() && rep.BytesAfter < st.Size() {
		t.Errorf("report says %d bytes after, file is %d", rep.BytesAfter, st.Size())
	}
	// 19 of 20 rounds' packets went: the file must lose most of its packet pages.
	if rep.BytesFreed < rep.BytesBefore/3 {
		t.Errorf("freed %d of %d bytes; the file did not really shrink", rep.BytesFreed, rep.BytesBefore)
	}
	if got := count(t, db, `PRAGMA freelist_count`); got != 0 {
		t.Errorf("%d free pages left in the file after vacuum", got)
	}
	storetest.Integrity(t, db)
}

func TestMaxSize(t *testing.T) {
	db, _ := storetest.New(t)
	rounds := make([]round, 10)
	for i := range rounds {
		rounds[i] = round{age: time.Duration(10-i) * time.Hour, scored: true, packets: 3000}
	}
	fill(t, db, rounds)
	live := func() int64 {
		return count(t, db, `SELECT (SELECT page_count FROM pragma_page_count) - (SELECT freelist_count FROM pragma_freelist_count)`) *
			count(t, db, `PRAGMA page_size`)
	}
	full := live()
	limit := full / 2
	opt := defaults
	opt.MaxSize = limit
	if _, err := cleanup.Clean(context.Background(), db, opt); err != nil {
		t.Fatal(err)
	}
	if got := live(); got > limit {
		t.Errorf("data is %d bytes after cleanup, want <= %d", got, limit)
	}
	ids := roundIDs(t, db)
	if len(ids) == 0 || len(ids) == len(rounds) || ids[len(ids)-1] != int64(len(rounds)) {
		t.Errorf("rounds left %v: want the newest kept and the oldest gone", ids)
	}
	storetest.Integrity(t, db)
}

// TestWriterNotBlocked runs cleanup on a database of two million packets
// while another connection keeps committing small rounds, as collect would,
// and checks every commit went through and none waited a second. One long
// transaction would hold the writer for nearly all of the cleanup; so would
// chunks taken back to back, since the writer's busy handler looks at the
// lock only every 100 ms (the writer waited 0.7-2.5 s of a 4 s cleanup on a
// loaded machine). With a pause after each chunk the longest wait measured
// 0.19-0.24 s there.
func TestWriterNotBlocked(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a large database")
	}
	db, path := storetest.New(t)
	const perRound, n = 20000, 100
	rounds := make([]round, n)
	for i := range rounds {
		rounds[i] = round{age: 30 * day, scored: true, packets: perRound}
	}
	fill(t, db, rounds)
	other, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	var wg sync.WaitGroup
	done := make(chan struct{})
	var worst time.Duration
	var writes int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			began := time.Now()
			w, err := other.NewWriter()
			if err == nil {
				var id int64
				if id, err = w.StartRound(now, "live"); err == nil {
					err = w.EndRound(id, now, store.Complete, store.Counts{})
				}
				if cerr := w.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				t.Errorf("concurrent write failed: %v", err)
				return
			}
			worst = max(worst, time.Since(began))
			writes++
			time.Sleep(5 * time.Millisecond)
		}
	}()
	began := time.Now()
	rep, err := cleanup.Clean(context.Background(), db, defaults)
	took := time.Since(began)
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Packets != perRound*n {
		t.Errorf("deleted %d packets, want %d", rep.Packets, perRound*n)
	}
	if worst > time.Second {
		t.Errorf("a concurrent write waited %v during a cleanup of %v, want under 1s", worst, took)
	}
	t.Logf("%d concurrent writes during a cleanup of %v, slowest %v; %v", writes, took, worst, rep)
}

// Run refuses options that mean nothing and a database that is not there
// as bad input, creating nothing.
func TestRunBadInput(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none.db")
	quiet := slog.New(slog.DiscardHandler)
	tests := []struct {
		name string
		opt  cleanup.Options
	}{
		{"no database", cleanup.Options{Keep: day, KeepAnomalies: day}},
		{"zero keep", cleanup.Options{DB: missing, KeepAnomalies: day}},
		{"negative keep anomalies", cleanup.Options{DB: missing, Keep: day, KeepAnomalies: -day}},
		{"negative max size", cleanup.Options{DB: missing, Keep: day, KeepAnomalies: day, MaxSize: -1}},
		{"missing database", cleanup.Options{DB: missing, Keep: day, KeepAnomalies: day}},
	}
	for _, tt := range tests {
		err := cleanup.Run(context.Background(), tt.opt, quiet)
		if runerr.KindOf(err) != runerr.Bad {
			t.Errorf("%s: got %v, want a bad-input error", tt.name, err)
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("database after refused runs: %v, want none", err)
	}
}
