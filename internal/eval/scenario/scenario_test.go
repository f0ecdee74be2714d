package scenario

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"portwatch/pkg/sock"
	"portwatch/pkg/store"
)

func generate(t *testing.T, cfg Config) *Timeline {
	t.Helper()
	tl, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Seed: 7, TrainDays: 1, TestDays: 1, EventsPerKind: 2, Sleeps: 1}
	a, b := generate(t, cfg), generate(t, cfg)
	if !reflect.DeepEqual(a, b) {
		t.Error("two timelines from seed 7 differ")
	}
	cfg.Seed = 8
	if c := generate(t, cfg); reflect.DeepEqual(a, c) {
		t.Error("timelines from seeds 7 and 8 are equal")
	}
}

// listens returns the addresses of round r's TCP listeners on port.
func listens(r store.Round, port uint16) []netip.Addr {
	var addrs []netip.Addr
	for _, s := range r.Sockets {
		if s.Port == port && s.Protocol == sock.TCP && s.State == sock.Listen {
			addrs = append(addrs, s.Address)
		}
	}
	return addrs
}

func ephemeralTCP(r store.Round) int {
	n := 0
	for _, s := range r.Sockets {
		if s.Protocol == sock.TCP && s.Port >= ephemeralLow && s.Port <= ephemeralHigh && s.State != sock.Listen {
			n++
		}
	}
	return n
}

// TestEventsChangeRows checks each event against the same timeline without
// events: its rounds changed as its kind says, every other round is equal.
func TestEventsChangeRows(t *testing.T) {
	for _, p := range Profiles() {
		t.Run(string(p), func(t *testing.T) {
			testEventsChangeRows(t, Config{Seed: 3, TrainDays: 1, TestDays: 2, EventsPerKind: 3, Sleeps: 2, Profile: p})
		})
	}
}

func testEventsChangeRows(t *testing.T, cfg Config) {
	tl := generate(t, cfg)
	cfg.EventsPerKind = 0
	base := generate(t, cfg)
	if len(base.Events) != 0 || len(tl.Rounds) != len(base.Rounds) || tl.Train != base.Train {
		t.Fatalf("base: got %d events, %d rounds, train %d; want 0, %d, %d",
			len(base.Events), len(base.Rounds), base.Train, len(tl.Rounds), tl.Train)
	}
	inEvent := make([]bool, len(tl.Rounds))
	perKind := map[Kind]int{}
	for i, ev := range tl.Events {
		perKind[ev.Kind]++
		if ev.Start < tl.Train+Spacing || ev.End <= ev.Start || ev.End > len(tl.Rounds) {
			t.Errorf("event %+v: outside the test rounds (train %d, %d rounds)", ev, tl.Train, len(tl.Rounds))
		}
		if i > 0 && ev.Start < tl.Events[i-1].End+Spacing {
			t.Errorf("event %+v: within %d rounds of the one before, ending %d", ev, Spacing, tl.Events[i-1].End)
		}
		for k := ev.Start; k < ev.End; k++ {
			inEvent[k] = true
			checkEventRound(t, ev, k-ev.Start, base.Rounds[k], tl.Rounds[k])
		}
	}
	for _, k := range KindsFor(cfg.Profile) {
		if got := perKind[k]; got != 3 {
			t.Errorf("kind %s: got %d events, want 3", k, got)
		}
	}
	for i := range tl.Rounds {
		if !inEvent[i] && !reflect.DeepEqual(tl.Rounds[i], base.Rounds[i]) {
			t.Errorf("round %d, outside every event, differs from the timeline without events", i)
		}
	}
}

func checkEventRound(t *testing.T, ev Event, k int, base, got store.Round) {
	t.Helper()
	before, after := listens(base, ev.Port), listens(got, ev.Port)
	switch ev.Kind {
	case NewListener, OddHours, ListenerOffPhase:
		if len(before) != 0 || len(after) == 0 {
			t.Errorf("%+v round %d: got listeners %v before and %v after, want none before and some after", ev, k, before, after)
		}
	case Rebound:
		if !slices.ContainsFunc(before, netip.Addr.IsLoopback) || slices.ContainsFunc(after, netip.Addr.IsLoopback) ||
			!slices.ContainsFunc(after, netip.Addr.IsUnspecified) || len(after) != len(before) {
			t.Errorf("%+v round %d: got listeners %v before and %v after, want loopback ones turned wildcard", ev, k, before, after)
		}
	case Vanished:
		if len(before) == 0 || len(after) != 0 {
			t.Errorf("%+v round %d: got listeners %v before and %v after, want some before and none after", ev, k, before, after)
		}
	case BurstOffPhase:
		if b, a := ephemeralTCP(base), ephemeralTCP(got); a < b {
			t.Errorf("%+v round %d: got %d ephemeral TCP sockets, from %d; want the burst's on top", ev, k, a, b)
		}
	case Exhaustion:
		b, a := ephemeralTCP(base), ephemeralTCP(got)
		if last := k == ev.End-ev.Start-1; a <= b || (last && a < (ephemeralHigh-ephemeralLow)/2) {
			t.Errorf("%+v round %d: got %d ephemeral TCP sockets, from %d; want more, and over half the range at the end", ev, k, a, b)
		}
	}
}

func TestOddHoursPortIsUsual(t *testing.T) {
	tl := generate(t, Config{Seed: 5, TrainDays: 2, TestDays: 1, EventsPerKind: 4, Kinds: []Kind{OddHours}})
	for _, ev := range tl.Events {
		seen := false
		for _, r := range tl.Rounds[:tl.Train] {
			seen = seen || len(listens(r, ev.Port)) > 0
		}
		if !seen {
			t.Errorf("%+v: port %d never listens in training, want a usual port", ev, ev.Port)
		}
	}
}

func TestGenerateRefuses(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{TestDays: 0}, "at least one test day"},
		{Config{TestDays: 1, Kinds: []Kind{"meteor"}}, `unknown anomaly kind "meteor"`},
		{Config{TestDays: 1, EventsPerKind: 200}, "no room left"},
	}
	for _, tt := range tests {
		_, err := Generate(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Generate(%+v): got error %v, want one containing %q", tt.cfg, err, tt.want)
		}
	}
}

// TestWriteLoad writes a timeline through the store and reads it back with
// the features loader: the detector sees what the in-memory scorers see.
func TestWriteLoad(t *testing.T) {
	tl := generate(t, Config{Seed: 11, TestDays: 1, EventsPerKind: 1, Sleeps: 1})
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "ports.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := tl.Write(ctx, db); err != nil {
		t.Fatal(err)
	}
	got, err := db.Rounds(ctx, store.RoundQuery{Source: Source})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(tl.Rounds) {
		t.Fatalf("got %d rounds back, want %d", len(got), len(tl.Rounds))
	}
	for i, r := range got {
		want := tl.Rounds[i]
		if r.ID != want.ID || !r.Start.Equal(want.Start) || !slices.Equal(r.Sockets, want.Sockets) {
			t.Fatalf("round %d: got id %d at %v with %d sockets, want id %d at %v with %d sockets (or they differ)",
				i, r.ID, r.Start, len(r.Sockets), want.ID, want.Start, len(want.Sockets))
		}
	}
	if err := tl.Write(ctx, db); err == nil || !strings.Contains(err.Error(), "already holds") {
		t.Errorf("second Write: got error %v, want one saying the database already holds rounds", err)
	}
}

// TestPhenomena checks each recurring job where its phase puts it, and
// nowhere else.
func TestPhenomena(t *testing.T) {
	tl := generate(t, Config{Seed: 9, TrainDays: 0, TestDays: 2, Profile: Server})
	mixed := generate(t, Config{Seed: 9, TrainDays: 0, TestDays: 2})
	for i, a := range mixed.Active {
		if a != 0 {
			t.Fatalf("mixed round %d: got phenomena %b, want none", i, a)
		}
	}
	rh := newRhythm(rand.New(rand.NewPCG(9, streamRhythm)), Server, newHost(rand.New(rand.NewPCG(9, streamHost))))
	seen := map[Phenomenon]int{}
	var burst, other, nb, no int
	for i, r := range tl.Rounds {
		a := tl.Active[i]
		for _, p := range EveryPhenomenon() {
			if a.Has(p) {
				seen[p]++
			}
		}
		if got, want := len(listens(r, rh.admin.port)) > 0, a.Has(PeriodicListener); got != want {
			t.Errorf("round %d at %s: admin listener %v, want %v", i, r.Start.Format("15:04"), got, want)
		}
		if got := len(listens(r, rh.restarted.port)) > 0; got == a.Has(NightlyRestart) {
			t.Errorf("round %d at %s: %s listening %v during its restart %v", i, r.Start.Format("15:04"),
				rh.restarted.sockets[0].Process, got, a.Has(NightlyRestart))
		}
		if a.Has(HourlyBurst) && r.Start.Hour() >= 9 && r.Start.Hour() < 18 {
			burst += ephemeralTCP(r)
			nb++
		} else if a == 0 && r.Start.Hour() >= 9 && r.Start.Hour() < 18 {
			other += ephemeralTCP(r)
			no++
		}
	}
	for _, p := range []Phenomenon{HourlyBurst, QuarterHourly, PeriodicListener, NightlyRestart} {
		if seen[p] == 0 {
			t.Errorf("%s never ran in two days", p)
		}
	}
	if nb == 0 || no == 0 || float64(burst)/float64(nb) < 1.5*float64(other)/float64(no) {
		t.Errorf("office hours: %d ephemeral sockets in %d burst rounds, %d in %d others; want the bursts well above",
			burst, nb, other, no)
	}
}

// TestJobProcess: the hourly job and its off-phase bursts run as the
// program asked for, and no socket is left with the job's own name.
func TestJobProcess(t *testing.T) {
	count := func(tl *Timeline, process string, burst bool) int {
		n := 0
		for i, r := range tl.Rounds {
			if burst != slices.ContainsFunc(tl.Events, func(ev Event) bool { return ev.Kind == BurstOffPhase && i >= ev.Start && i < ev.End }) {
				continue
			}
			for _, s := range r.Sockets {
				if s.Process == process {
					n++
				}
			}
		}
		return n
	}
	cfg := Config{Seed: 4, TestDays: 1, EventsPerKind: 2, Profile: Server, Kinds: []Kind{BurstOffPhase}}
	own := generate(t, cfg)
	cfg.JobProcess = "curl"
	shared := generate(t, cfg)
	if n := count(own, "batch-job", true); n == 0 {
		t.Error("own program: no batch-job connection in the off-phase bursts")
	}
	if n := count(shared, "batch-job", false) + count(shared, "batch-job", true); n != 0 {
		t.Errorf("job as curl: %d batch-job sockets, want none", n)
	}
	if own, shared := count(own, "curl", true), count(shared, "curl", true); shared <= own {
		t.Errorf("job as curl: %d curl sockets in the bursts, want more than the %d of its own program", shared, own)
	}
}
