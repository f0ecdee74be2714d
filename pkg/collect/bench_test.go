package collect_test

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"portwatch/pkg/collect"
)

const benchmarkPcap = "../../../shared/pcaps/benchmark/mixed_real_traffic_merged.pcap"

// BenchmarkIngest ingests the 163,137-frame benchmark capture into a new
// database per iteration, as `collect --pcap` does; frames/s is the figure.
func BenchmarkIngest(b *testing.B) {
	if _, err := os.Stat(benchmarkPcap); err != nil {
		b.Skipf("benchmark capture not here: %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var frames int64
	for i := 0; i < b.N; i++ {
		o := collect.Options{
			DB: filepath.Join(b.TempDir(), "ports.db"), Round: time.Minute,
			ScanInterval: time.Second, ScanMethod: collect.ScanProc, Pcaps: []string{benchmarkPcap},
		}
		sum, err := collect.Run(b.Context(), o, log)
		if err != nil {
			b.Fatal(err)
		}
		frames += sum.Counts.Frames
	}
	b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
}
