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
	"portwatch/pkg/collect"
	"portwatch/pkg/store"
	"portwatch/pkg/store/storetest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden files")

const pcaps = "../../../shared/pcaps/"

// options returns Options for a run into a new database in t.TempDir.
func options(t *testing.T, files ...string) collect.Options {
	t.Helper()
	for i, f := range files {
		files[i] = pcaps + f
		if _, err := os.Stat(files[i]); err != nil {
			t.Skipf("shared capture missing: %v", err)
		}
	}
	return collect.Options{
		DB: filepath.Join(t.TempDir(), "ports.db"), Round: time.Second,
		ScanInterval: 200 * time.Millisecond, ScanMethod: collect.ScanProc, Pcaps: files,
	}
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
	o := options(t,
		"attacks/ppa_blaster_worm.pcap",
		"dns/ndpi_dns.pcap",
		"dns/malcolm_ripple20_dns_over_tcp.pcap",
		"formats/ndpi_nats.pcap",
		"formats/ndpi_custom_rules_ipv6.pcapng",
		"corpus/tcpdump-tests/tcp-handshake-nano.pcap",
		"corpus/tcpdump-tests/pptp.pcap",
		"corpus/tcpdump-tests/empty.pcapng",
		"malformed/ndpi_fuzz-2021-10-13.pcap",
	)
	o.PayloadBytes = 8
	_, err := collect.Run(context.Background(), o, quiet())
	var damaged *capture.FileError
	if !errors.As(err, &damaged) {
		t.Errorf("Run error = %v, want the damaged file's *capture.FileError", err)
	}
	db := storetest.Open(t, o.DB)
	storetest.Integrity(t, db)
	got := dump(t, db)
	golden := filepath.Join("testdata", "golden", "pcap.txt")
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
