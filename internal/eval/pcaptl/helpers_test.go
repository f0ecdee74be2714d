package pcaptl_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"portwatch/internal/eval/pcaptl"
	"portwatch/pkg/capture"
	"portwatch/pkg/collect"
	"portwatch/pkg/packet"
	"portwatch/pkg/store"
)

// sharedDir is ../shared/pcaps seen from this package.
const sharedDir = "../../../../shared/pcaps"

// pcapOf writes tl as a pcap in a temp dir and returns its path and bytes.
func pcapOf(t *testing.T, tl *pcaptl.Timeline) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	if err := tl.WritePcap(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "timeline.pcap")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, b.Bytes()
}

// readBack reads a pcap with pkg/capture, failing on time going back,
// and returns its packets (copied).
func readBack(t *testing.T, path string) []packet.Packet {
	t.Helper()
	src, err := capture.OpenFile(context.Background(), path, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []packet.Packet
	for {
		p, err := src.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("read %s back: %v", path, err)
		}
		if n := len(out); n > 0 && p.Time.Before(out[n-1].Time) {
			t.Fatalf("frame %d at %v, before frame %d at %v", p.Frame, p.Time, n, out[n-1].Time)
		}
		out = append(out, *p)
	}
}

// collectStarts ingests a pcap with collect in rounds of a minute into a new
// database and returns the rounds' starts.
func collectStarts(t *testing.T, path string, local []netip.Prefix) []time.Time {
	t.Helper()
	db := filepath.Join(t.TempDir(), "portwatch.db")
	o := collect.Options{DB: db, Pcaps: []string{path}, Round: time.Minute, Local: local, ScanInterval: time.Second, ScanMethod: collect.ScanNetlink}
	if _, err := collect.Collect(context.Background(), o, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("collect --pcap %s: %v", path, err)
	}
	d, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rounds, err := d.Rounds(context.Background(), store.RoundQuery{})
	if err != nil {
		t.Fatal(err)
	}
	starts := make([]time.Time, len(rounds))
	for i, r := range rounds {
		starts[i] = r.Start
	}
	return starts
}
