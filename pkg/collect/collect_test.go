package collect_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portwatch/pkg/capture"
	"portwatch/pkg/capture/capturetest"
	"portwatch/pkg/collect"
	"portwatch/pkg/store"
	"portwatch/pkg/store/storetest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden files")

// options returns Options for a run into a new database in t.TempDir,
// ingesting the capture files at paths.
func options(t *testing.T, paths ...string) collect.Options {
	t.Helper()
	return collect.Options{
		DB: filepath.Join(t.TempDir(), "ports.db"), Round: time.Second,
		ScanInterval: 200 * time.Millisecond, ScanMethod: collect.ScanProc, Pcaps: paths,
	}
}

// shared lists captures of ../shared/pcaps; the test skips, naming the
// file, when one is missing.
func shared(t *testing.T, files ...string) []string {
	t.Helper()
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = capturetest.Shared(t, f)
	}
	return paths
}

// mixed writes capturetest.Mixed as a pcap file named name in a temp directory.
func mixed(t *testing.T, name string) string {
	t.Helper()
	return capturetest.Temp(t, name, capturetest.Mixed(t)...)
}

// scan writes capturetest.Scan(n), 2n frames over n/100 s, as a pcap file.
func scan(t *testing.T, name string, n int) string {
	t.Helper()
	return capturetest.Temp(t, name, capturetest.Scan(t, n)...)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// dump prints every round and packet row, one per line, in id order.
func dump(t *testing.T, db *store.DB) string {
	t.Helper()
	var b strings.Builder
	dumpRows(t, db, &b,
		`SELECT 'round', id, start_time, end_time, status, source, scans, frames, frames_malformed, frames_skipped, frames_dropped FROM rounds ORDER BY id`,
		`SELECT 'packet', id, round_id, frame, timestamp, protocols, qry_name, resp_name, port_id, dest_port, src_ip, dst_ip, length, tcp_flags, payload FROM packets ORDER BY id`,
	)
	return b.String()
}

// dumpRows writes the rows of each query to w, one per line, columns
// separated by '|', NULL as NULL and blobs in hex.
func dumpRows(t *testing.T, db *store.DB, w io.Writer, queries ...string) {
	t.Helper()
	for _, q := range queries {
		rows, err := storetest.Raw(t, db).Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		line := []byte{}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			line = line[:0]
			for i, v := range vals {
				if i > 0 {
					line = append(line, '|')
				}
				switch v := v.(type) {
				case nil:
					line = append(line, "NULL"...)
				case []byte:
					line = hex.AppendEncode(line, v)
				default:
					line = fmt.Append(line, v)
				}
			}
			if _, err := w.Write(append(line, '\n')); err != nil {
				t.Fatal(err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
}

// TestGoldenPcapIngest ingests a few small real captures (pcap, pcapng under
// a .pcap name, big-endian, nanosecond, NULL link, DNS over TCP, times going
// backwards, an empty file, a damaged file) and compares every stored row with
// testdata/golden/pcap.txt. go test -run Golden -update rewrites it.
func TestGoldenPcapIngest(t *testing.T) {
	o := options(t, shared(t,
		"attacks/ppa_blaster_worm.pcap",
		"dns/ndpi_dns.pcap",
		"dns/malcolm_ripple20_dns_over_tcp.pcap",
		"formats/ndpi_nats.pcap",
		"formats/ndpi_custom_rules_ipv6.pcapng",
		"corpus/tcpdump-tests/tcp-handshake-nano.pcap",
		"corpus/tcpdump-tests/pptp.pcap",
		"corpus/tcpdump-tests/empty.pcapng",
		"malformed/ndpi_fuzz-2021-10-13.pcap",
	)...)
	o.PayloadBytes = 8
	goldenIngest(t, o, "pcap.txt")
}

// TestGoldenGeneratedIngest is TestGoldenPcapIngest on generated captures,
// so it runs without the shared ones: capturetest.Mixed (DNS with a CNAME,
// TCP over IPv6, UDP, ICMP, ICMPv6, a frame cut short, a time going back, a
// SYN scan) as pcap and as pcapng under a .pcap name, an empty pcapng, and
// Mixed cut inside its eighth record; rows in testdata/golden/generated.txt.
func TestGoldenGeneratedIngest(t *testing.T) {
	dir := t.TempDir()
	frames := capturetest.Mixed(t)
	whole, ng, empty := filepath.Join(dir, "mixed.pcap"), filepath.Join(dir, "mixed-ng.pcap"), filepath.Join(dir, "empty.pcapng")
	capturetest.Write(t, whole, frames...)
	capturetest.WriteNg(t, ng, frames...)
	capturetest.WriteNg(t, empty)
	cut := capturetest.CutFile(t, whole, capturetest.RecordOffset(frames, 7)+30)
	o := options(t, whole, ng, empty, cut)
	o.PayloadBytes = 8
	goldenIngest(t, o, "generated.txt")
}

// goldenIngest runs o, whose last file is damaged, and compares every stored
// row with testdata/golden/name; -update rewrites it.
func goldenIngest(t *testing.T, o collect.Options, name string) {
	t.Helper()
	_, err := collect.Collect(context.Background(), o, quiet())
	var damaged *capture.FileError
	if !errors.As(err, &damaged) {
		t.Errorf("Run error = %v, want the damaged file's *capture.FileError", err)
	}
	db := storetest.Open(t, o.DB)
	storetest.Integrity(t, db)
	compareGolden(t, dump(t, db), name)
}

// compareGolden compares got with testdata/golden/name line by line; -update rewrites it.
func compareGolden(t *testing.T, got, name string) {
	t.Helper()
	golden := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("row %d differs from %s:\ngot  %s\nwant %s", i+1, golden, gl[i], wl[i])
			}
		}
		t.Fatalf("got %d rows, %s has %d", len(gl), golden, len(wl))
	}
}

// TestBenchmarkCaptureRows ingests the benchmark capture as
// scripts/bench/ingest.sh does and compares each table's row count and the
// SHA-256 of its rows in key order with testdata/golden/benchmark.txt: what
// making ingest faster must leave as it was. -update rewrites it.
func TestBenchmarkCaptureRows(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests the 163,137-frame benchmark capture")
	}
	o := options(t, shared(t, "benchmark/mixed_real_traffic_merged.pcap")...)
	o.Round = time.Minute
	if _, err := collect.Collect(t.Context(), o, quiet()); err != nil {
		t.Fatal(err)
	}
	db := storetest.Open(t, o.DB)
	var b strings.Builder
	for _, tb := range []struct{ table, order string }{
		{"rounds", "id"},
		{"packets", "id"},
		{"traffic_rounds", "round_id"},
		{"traffic_ports", "round_id, port, protocol, direction"},
		{"traffic_sources", "round_id, address"},
		{"traffic_dns", "round_id, domain"},
	} {
		var rows int64
		if err := storetest.Raw(t, db).QueryRow("SELECT count(*) FROM " + tb.table).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		dumpRows(t, db, h, "SELECT * FROM "+tb.table+" ORDER BY "+tb.order)
		fmt.Fprintf(&b, "%s %d %x\n", tb.table, rows, h.Sum(nil))
	}
	// The file's progress, without updated_at (the clock) and the resume
	// point of its last commit, which a complete file never reads.
	dumpRows(t, db, &b, "SELECT 'capture', identity, name, size, frames_committed, complete FROM captures ORDER BY id")
	compareGolden(t, b.String(), "benchmark.txt")
}
