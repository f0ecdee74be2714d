package capture

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"portwatch/pkg/packet"
	"testing"

	"portwatch/pkg/capture/capturetest"
)

// BenchmarkReadFile reads and decodes the 163,137-frame benchmark capture;
// one op is the whole file. frames/s is the throughput; allocs/op divided
// by the frame count shows the per-packet allocations (the steady state
// should have none).
func BenchmarkReadFile(b *testing.B) {
	path := capturetest.Shared(b, "benchmark/mixed_real_traffic_merged.pcap")
	for _, payload := range []int{0, 64} {
		name := "payload=0"
		if payload > 0 {
			name = "payload=64"
		}
		b.Run(name, func(b *testing.B) {
			var frames int64
			b.ReportAllocs()
			cpu0 := capturetest.CPUTime(b)
			for b.Loop() {
				s, err := OpenFile(context.Background(), path, Options{PayloadBytes: payload})
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err = s.Next(); err != nil {
						break
					}
				}
				if !errors.Is(err, io.EOF) {
					b.Fatal(err)
				}
				frames = s.Stats().Frames
				s.Close()
			}
			b.ReportMetric(float64(capturetest.CPUTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(frames)*float64(b.N)/b.Elapsed().Seconds(), "frames/s")
			b.ReportMetric(float64(frames), "frames/op")
		})
	}
}

// BenchmarkDecode decodes one frame per op, cycling over the first 10,000
// frames of the benchmark capture held in memory: once the caches hold
// their addresses and names, allocs/op is the steady state's.
func BenchmarkDecode(b *testing.B) {
	f, err := os.Open(capturetest.Shared(b, "benchmark/mixed_real_traffic_merged.pcap"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rr, err := newRecordReader(f)
	if err != nil {
		b.Fatal(err)
	}
	var frames [][]byte
	var links []uint32
	for len(frames) < 10000 {
		rec, err := rr.next()
		if err != nil {
			b.Fatal(err)
		}
		frames, links = append(frames, bytes.Clone(rec.data)), append(links, rec.linkType)
	}
	d := newDecoder(64)
	var p packet.Packet
	for i := range frames { // fill the caches
		d.decode(&p, frames[i], links[i])
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.decode(&p, frames[i], links[i])
		i = (i + 1) % len(frames)
	}
}
