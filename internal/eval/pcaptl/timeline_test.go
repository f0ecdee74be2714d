package pcaptl_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"portwatch/internal/eval/pcaptl"
	"portwatch/internal/eval/pcaptl/pcaptltest"
	"portwatch/pkg/capture/capturetest"
	"portwatch/pkg/packet"
)

func load(t *testing.T, in pcaptl.Inputs) *pcaptl.Library {
	t.Helper()
	lib, err := pcaptl.Load(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

func build(t *testing.T, lib *pcaptl.Library, cfg pcaptl.Config) *pcaptl.Timeline {
	t.Helper()
	tl, err := lib.Timeline(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// TestSmallTimeline builds a timeline of the small generated inputs and
// checks it frame by frame: read back in time order, one collect round a
// minute, each event's frames in its rounds and nowhere else, the same
// bytes for the same seed.
func TestSmallTimeline(t *testing.T) {
	in := pcaptltest.Inputs(t)
	lib := load(t, in)
	// 6 visits and 4 lookups, each its own chunk; the scan frame in the
	// background and the repeated visit frame are left out.
	if st := lib.Stats; st.Chunks != 10 || st.Excluded != 1 || st.Duplicates != 1 || st.BenignFrames != 6*6+4*2 {
		t.Errorf("load: got %+v, want 10 chunks of 44 frames, 1 excluded, 1 duplicate", st)
	}
	cfg := pcaptl.Config{Seed: 1, TrainMinutes: 20, TestMinutes: 100, EventsPerKind: 2}
	tl := build(t, lib, cfg)
	if len(tl.Events) != 4 || tl.Minutes != 120 || !tl.Start.Equal(pcaptl.DefaultStart) {
		t.Fatalf("timeline: got %d events over %d minutes from %v, want 4 over 120 from %v", len(tl.Events), tl.Minutes, tl.Start, pcaptl.DefaultStart)
	}
	path, data := pcapOf(t, tl)
	packets := readBack(t, path)
	if len(packets) != tl.Frames() {
		t.Fatalf("read back %d frames, the timeline has %d", len(packets), tl.Frames())
	}

	// Each event's frames lie in its rounds, and no such frame elsewhere.
	want := map[int]int{} // minute: event frames
	for _, ev := range tl.Events {
		if ev.Minute < tl.Train+pcaptl.Spacing || ev.Minute+ev.Rounds > tl.Minutes-pcaptl.Spacing {
			t.Errorf("event %+v outside the test period less its margins", ev)
		}
		wantFrames := map[pcaptl.Kind]int{pcaptl.Scan: 200, pcaptl.DNSTunnel: 60}[ev.Kind]
		if ev.Frames != wantFrames || ev.Rounds != 1 {
			t.Errorf("event %+v: want %d frames in 1 round", ev, wantFrames)
		}
		want[ev.Minute] += ev.Frames
	}
	got := map[int]int{}
	for _, p := range packets {
		if p.SrcIP == pcaptltest.Scanner || p.DstIP == pcaptltest.Scanner || strings.HasSuffix(p.QryName, "."+pcaptltest.TunnelDomain) {
			got[int(p.Time.Sub(tl.Start)/time.Minute)]++
		}
	}
	if !mapsEqual(got, want) {
		t.Errorf("event frames per minute: got %v, want %v", got, want)
	}

	// collect, the baselines' cutter and the timeline agree on the rounds.
	rounds, err := pcaptl.ReadRounds(context.Background(), path, time.Minute, tl.Local)
	if err != nil {
		t.Fatal(err)
	}
	starts := collectStarts(t, path, tl.Local)
	if len(rounds) != tl.Minutes || len(starts) != tl.Minutes {
		t.Fatalf("rounds: cut %d, collect %d, want %d", len(rounds), len(starts), tl.Minutes)
	}
	for i, r := range rounds {
		if !r.Start.Equal(tl.MinuteStart(i)) || !starts[i].Equal(r.Start) || r.Frames != tl.PerMinute[i] {
			t.Fatalf("round %d: cut at %v with %d frames, collect's at %v; minute at %v with %d", i, r.Start, r.Frames, starts[i], tl.MinuteStart(i), tl.PerMinute[i])
		}
	}
	checkBackground(t, tl)

	// Deterministic per seed, also from a fresh load; another seed differs.
	if _, again := pcapOf(t, build(t, load(t, in), cfg)); !bytes.Equal(again, data) {
		t.Error("same seed, other bytes")
	}
	other := cfg
	other.Seed = 2
	if _, o := pcapOf(t, build(t, lib, other)); bytes.Equal(o, data) {
		t.Error("seed 2 gave seed 1's bytes")
	}
	// The background does not depend on the events.
	quiet := cfg
	quiet.EventsPerKind = 0
	q := build(t, lib, quiet)
	for m := range tl.Minutes {
		if q.PerMinute[m] != tl.PerMinute[m]-want[m] {
			t.Fatalf("minute %d without events: %d frames, want %d", m, q.PerMinute[m], tl.PerMinute[m]-want[m])
		}
	}
}

func mapsEqual(a, b map[int]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// checkBackground: training draws no held-out chunk, the test period does.
func checkBackground(t *testing.T, tl *pcaptl.Timeline) {
	t.Helper()
	bg := tl.Background
	if bg.Novel == 0 || bg.NovelInTest == 0 || bg.NovelMinutes == 0 || bg.TrainChunks > bg.Chunks-bg.Novel {
		t.Errorf("background: got %+v, want held-out chunks drawn in the test period only", bg)
	}
	if novel := pcaptl.NovelInTraining(tl); novel != 0 {
		t.Errorf("training minutes drew %d held-out chunks", novel)
	}
}

func TestTimelineRefuses(t *testing.T) {
	lib := load(t, pcaptltest.Inputs(t))
	tests := []struct {
		name string
		cfg  pcaptl.Config
		want string
	}{
		{"no training", pcaptl.Config{TestMinutes: 60}, "at least one of each"},
		{"no test", pcaptl.Config{TrainMinutes: 60}, "at least one of each"},
		{"negative events", pcaptl.Config{TrainMinutes: 60, TestMinutes: 60, EventsPerKind: -1}, "0 or more"},
		{"start within a minute", pcaptl.Config{TrainMinutes: 60, TestMinutes: 60, Start: pcaptl.DefaultStart.Add(time.Second)}, "whole minute"},
		{"too many events", pcaptl.Config{TrainMinutes: 60, TestMinutes: 60, EventsPerKind: 3}, "ask for fewer events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lib.Timeline(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestLoadRefuses(t *testing.T) {
	in := pcaptltest.Inputs(t)
	missing, nothing, oneChunk := in, in, in
	missing.Benign = append(slices.Clone(in.Benign), "bg/none.pcap")
	nothing.Events = append(slices.Clone(in.Events), pcaptl.EventSource{Kind: pcaptl.Bot, Path: "scan.pcap", Label: "nothing",
		Keep: func(*packet.Packet) bool { return false }})
	oneChunk.Benign = []string{"scan.pcap"} // all of it an event's: no chunk left
	tests := []struct {
		name string
		in   pcaptl.Inputs
		want string
	}{
		{"missing capture", missing, "bg/none.pcap"},
		{"event source with no frame taken", nothing, "scan.pcap#nothing: no Ethernet frame taken"},
		{"no background", oneChunk, "0 source chunks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pcaptl.Load(context.Background(), tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// TestSharedTimeline builds a timeline of the real captures: 8 hours with
// two events of each kind.
func TestSharedTimeline(t *testing.T) {
	capturetest.SharedAt(t, sharedDir, "benchmark/mixed_real_traffic_merged.pcap")
	lib := load(t, pcaptl.DefaultInputs(sharedDir))
	// Malcolm's DNS.pcap (both tunnels) and nDPI's long domain name are in the benchmark merge.
	if st := lib.Stats; st.Excluded != 2999+2 || st.NotEthernet != 0 || st.Chunks < 4000 {
		t.Errorf("load: got %+v, want the 3,001 event frames of the merge left out and 4,000 chunks or more", st)
	}
	cfg := pcaptl.Config{Seed: 1, TrainMinutes: 120, TestMinutes: 360, EventsPerKind: 2}
	tl := build(t, lib, cfg)
	path, data := pcapOf(t, tl)
	packets := readBack(t, path)
	if len(packets) != tl.Frames() || len(tl.Events) != 8 {
		t.Fatalf("read back %d frames of %d; %d events, want 8", len(packets), tl.Frames(), len(tl.Events))
	}
	for m := range tl.Minutes {
		if tl.PerMinute[m] == 0 {
			t.Fatalf("minute %d has no frame", m)
		}
	}
	rounds, err := pcaptl.ReadRounds(context.Background(), path, time.Minute, tl.Local)
	if err != nil {
		t.Fatal(err)
	}
	if len(rounds) != tl.Minutes {
		t.Fatalf("cut %d rounds, want %d", len(rounds), tl.Minutes)
	}
	for i, r := range rounds {
		if !r.Start.Equal(tl.MinuteStart(i)) || r.Frames != tl.PerMinute[i] {
			t.Fatalf("round %d at %v with %d frames, want minute %v with %d", i, r.Start, r.Frames, tl.MinuteStart(i), tl.PerMinute[i])
		}
	}
	checkBackground(t, tl)
	if _, again := pcapOf(t, build(t, lib, cfg)); !bytes.Equal(again, data) {
		t.Error("same seed, other bytes")
	}
}
