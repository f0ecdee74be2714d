// Package detectortest makes real portwatch databases holding a generated
// host history (pkg/scenario) for detect's tests, with an injected listener
// and rounds held back as still running, so a test can release them the way
// collect would finish them.
package detectortest

import (
	"context"
	"math"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"portwatch/internal/eval/scenario"
	"portwatch/pkg/packet"
	"portwatch/pkg/sock"
	"portwatch/pkg/store"
	"portwatch/pkg/store/storetest"
)

// Listener is the injected anomaly: nc listening on 0.0.0.0:4444.
var Listener = sock.Socket{Port: 4444, Protocol: sock.TCP, Family: 4, Address: netip.IPv4Unspecified(), State: sock.Listen, PID: 4242, Process: "nc"}

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
	h.set(t, store.Running, int64(released)+1, math.MaxInt64)
	return h
}

// Release marks rounds up to id complete, as collect does when a round ends.
func (h *History) Release(t testing.TB, id int) {
	t.Helper()
	h.set(t, store.Complete, math.MinInt64, int64(id))
}

// set gives the rounds with ids in [first, last] status s.
func (h *History) set(t testing.TB, s store.Status, first, last int64) {
	t.Helper()
	if err := h.DB.SetStatus(context.Background(), first, last, s); err != nil {
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
	syn := &packet.Packet{Frame: 1, Time: start, Length: 60, Protocols: "eth:ipv4:tcp",
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
		storetest.Count(t, h.DB, "batches"),
		storetest.Count(t, h.DB, "batches_rounds"),
		storetest.Count(t, h.DB, "anomalies"),
	}
}
