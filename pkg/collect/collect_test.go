package collect_test

import (
	"context"
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
	for _, q := range []string{
		`SELECT 'round', id, start_time, end_time, status, source, scans, frames, frames_malformed, frames_skipped, frames_dropped FROM rounds ORDER BY id`,
		`SELECT 'packet', id, round_id, frame, timestamp, protocols, qry_name, resp_name, port_id, dest_port, src_ip, dst_ip, length, tcp_flags, payload FROM packets ORDER BY id`,
	} {
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
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if i > 0 {
					b.WriteByte('|')
				}
				switch v := v.(type) {
				case nil:
					b.WriteString("NULL")
				case []byte:
					b.WriteString(hex.EncodeToString(v))
				default:
					fmt.Fprint(&b, v)
				}
			}
			b.WriteByte('\n')
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return b.String()
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
	got := dump(t, db)
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
