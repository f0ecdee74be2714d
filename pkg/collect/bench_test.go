package collect_test

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"portwatch/pkg/capture/capturetest"
	"portwatch/pkg/collect"
)

// BenchmarkIngest ingests the 163,137-frame benchmark capture into a new
// database per iteration, as `collect --pcap` does; frames/s is the figure.
func BenchmarkIngest(b *testing.B) {
	benchmarkPcap := capturetest.Shared(b, "benchmark/mixed_real_traffic_merged.pcap")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var frames int64
	cpu0 := capturetest.CPUTime(b)
	for i := 0; i < b.N; i++ {
		o := collect.Options{
			DB: filepath.Join(b.TempDir(), "ports.db"), Round: time.Minute,
			ScanInterval: time.Second, ScanMethod: collect.ScanProc, Pcaps: []string{benchmarkPcap},
		}
		sum, err := collect.Collect(b.Context(), o, log)
		if err != nil {
			b.Fatal(err)
		}
		frames += sum.Counts.Frames
	}
	b.ReportMetric(float64(capturetest.CPUTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
}
