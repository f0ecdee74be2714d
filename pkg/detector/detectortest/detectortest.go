// Package detectortest makes real portwatch databases holding a generated
// host history (pkg/scenario) for detect's tests, with an injected listener
// and rounds held back as still running, so a test can release them the way
// collect would finish them.
package detectortest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"portwatch/internal/eval/scenario"
	"portwatch/pkg/features"
	"portwatch/pkg/store"
	"portwatch/pkg/store/storetest"
)

// Listener is the injected anomaly: nc listening on 0.0.0.0:4444.
var Listener = features.Socket{Port: 4444, Protocol: "tcp", Family: 4, Address: "0.0.0.0", State: "listen", PID: 4242, Process: "nc"}

// History is a database of scenario rounds with ids 1..n.
type History struct {
	DB    *store.DB
	Path  string // the database file
	Model string // portae.onnx beside it
}

// New writes n minute rounds of a generated host into a new database, adds
// Listener to rounds [from, to) (ids; from = to for none), and leaves only
// rounds 1..released complete.
func New(t testing.TB, n, released int, from, to int64) *History {
	t.Helper()
	tl, err := scenario.Generate(scenario.Config{Seed: 7, TestDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	tl.Rounds = tl.Rounds[:n]
	for i := range tl.Rounds {
		if r := &tl.Rounds[i]; r.ID >= from && r.ID < to {
			r.Sockets = append(r.Sockets, Listener)
		}
	}
	db, path := storetest.New(t)
	if err := tl.Write(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	h := &History{DB: db, Path: path, Model: filepath.Join(filepath.Dir(path), "portae.onnx")}
	h.set(t, "running", released)
	return h
}

// Release marks rounds up to id complete, as collect does when a round ends.
func (h *History) Release(t testing.TB, id int) {
	t.Helper()
	h.set(t, "complete", id)
}

func (h *History) set(t testing.TB, status string, id int) {
	t.Helper()
	op := "<="
	if status == "running" {
		op = ">"
	}
	if _, err := h.DB.SQL().Exec("UPDATE rounds SET status = ? WHERE id "+op+" ?", status, id); err != nil {
		t.Fatal(err)
	}
}

// AddCapture stores a complete round the way collect --pcap does: source
// pcap:scan.pcap, one SYN packet to port 22, no occupancy scan. It returns
// the round's id.
func (h *History) AddCapture(t testing.TB, start time.Time) int64 {
	t.Helper()
	w, err := h.DB.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	id, err := w.StartRound(start, "pcap:scan.pcap")
	if err != nil {
		t.Fatal(err)
	}
	syn := &store.Packet{Frame: 1, Time: start, Length: 60, Protocols: "eth:ipv4:tcp",
		SrcIP: "192.0.2.7", DstIP: "192.0.2.1", SrcPort: 40000, DstPort: 22, TCPFlags: 2}
	if err := w.AddPacket(id, syn); err != nil {
		t.Fatal(err)
	}
	if err := w.EndRound(id, start.Add(time.Minute), store.Complete, store.Counts{Frames: 1}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return id
}

// Counts returns the rows in batches, batches_rounds and anomalies.
func (h *History) Counts(t testing.TB) [3]int64 {
	t.Helper()
	return [3]int64{
		storetest.Int(t, h.DB, "SELECT count(*) FROM batches"),
		storetest.Int(t, h.DB, "SELECT count(*) FROM batches_rounds"),
		storetest.Int(t, h.DB, "SELECT count(*) FROM anomalies"),
	}
}
