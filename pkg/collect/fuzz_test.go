package collect_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"portwatch/pkg/capture/capturetest"
	"portwatch/pkg/collect"
	"portwatch/pkg/runerr"
	"portwatch/pkg/store/storetest"
)

// FuzzIngestFile feeds arbitrary bytes to collect --pcap: whatever the file
// holds, the run must not panic, must fail only with a bad-input error, and
// must leave a sound database whose rounds count exactly the stored packets.
func FuzzIngestFile(f *testing.F) {
	frames := capturetest.Mixed(f) // a time going back, a frame cut short
	whole := capturetest.Pcap(f, frames...)
	f.Add(whole)
	f.Add(whole[:capturetest.RecordOffset(frames, 5)+20]) // cut inside a record
	f.Add(capturetest.Pcapng(f, frames...))
	for _, seed := range []string{
		"attacks/ppa_blaster_worm.pcap",                // times going backwards
		"dns/ndpi_dns.pcap",                            // pcapng named .pcap
		"corpus/tcpdump-tests/tcp-handshake-nano.pcap", // nanosecond pcap
		"malformed/ndpi_fuzz-2021-10-13.pcap",          // damaged record
	} {
		if b, err := os.ReadFile(filepath.Join(capturetest.SharedDir, seed)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		file := filepath.Join(dir, "fuzz.pcap")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		o := collect.Options{DB: filepath.Join(dir, "ports.db"), Round: time.Second,
			ScanInterval: time.Second, ScanMethod: collect.ScanProc, Pcaps: []string{file}}
		sum, err := collect.Collect(context.Background(), o, quiet())
		var usage *runerr.BadInputError
		if err != nil && !errors.As(err, &usage) {
			t.Fatalf("Run error %v is not a bad-input error", err)
		}
		if _, statErr := os.Stat(o.DB); statErr != nil {
			return
		}
		db := storetest.Open(t, o.DB)
		storetest.Integrity(t, db)
		packets := storetest.Int(t, db, "SELECT count(*) FROM packets")
		counted := storetest.Int(t, db, "SELECT coalesce(sum(frames), 0) FROM rounds")
		malformed := storetest.Int(t, db, "SELECT coalesce(sum(frames_malformed), 0) FROM rounds")
		if packets != sum.Counts.Frames || counted != packets || malformed != sum.Counts.Malformed {
			t.Errorf("packets %d, rounds count %d (malformed %d), summary %+v: want them to agree", packets, counted, malformed, sum.Counts)
		}
		if running := storetest.Int(t, db, "SELECT count(*) FROM rounds WHERE status = 'running' OR end_time IS NULL"); running != 0 {
			t.Errorf("%d rounds left running", running)
		}
		if bad := storetest.Int(t, db, "SELECT count(*) FROM rounds WHERE end_time < start_time"); bad != 0 {
			t.Errorf("%d rounds end before they start", bad)
		}
	})
}
