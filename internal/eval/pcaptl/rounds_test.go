package pcaptl_test

import (
	"slices"
	"testing"
	"time"

	"portwatch/internal/eval/pcaptl"
	"portwatch/pkg/capture/capturetest"
)

// TestCutterMatchesCollect: frames at odd times, one going back, are cut
// into the rounds collect --pcap -r 60 stores.
func TestCutterMatchesCollect(t *testing.T) {
	e := capturetest.Endpoints{Src: "192.168.1.5", Dst: "192.168.1.1", SrcPort: 40000, DstPort: 53}
	var frames []capturetest.Frame
	for _, s := range []float64{0, 30, 59.9, 61, 100, 95, 120.999, 121, 500, 559.999999} {
		frames = append(frames, capturetest.UDP(t, t0.Add(time.Duration(s*float64(time.Second))), e, []byte("x")))
	}
	path := capturetest.Temp(t, "odd.pcap", frames...)
	rounds, err := pcaptl.ReadRounds(t.Context(), path, time.Minute, local)
	if err != nil {
		t.Fatal(err)
	}
	var starts []time.Time
	var counts []int
	for _, r := range rounds {
		starts, counts = append(starts, r.Start), append(counts, r.Frames)
	}
	want := []time.Time{sec(0), sec(61), sec(121), sec(500)}
	if !slices.EqualFunc(starts, want, time.Time.Equal) || !slices.Equal(counts, []int{3, 4, 1, 2}) {
		t.Errorf("rounds: got starts %v with %v frames, want %v with [3 4 1 2]", starts, counts, want)
	}
	if got := collectStarts(t, path, local); !slices.EqualFunc(got, starts, time.Time.Equal) {
		t.Errorf("collect's round starts %v, the cutter's %v", got, starts)
	}
}
