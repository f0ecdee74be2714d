// Package scenario generates realistic, labelled host timelines of minute
// rounds to measure detectors on, in memory or written into a portwatch
// database through the store.
//
// The host (see host.go) runs steady system services (sshd, nginx, resolved,
// postgres and redis on loopback, ...), a dev server on loopback in office
// hours on weekdays and an rsync daemon for a few minutes from 02:00 every
// night. Its connections draw local ports uniformly from Linux's
// ip_local_port_range (32768-60999): browser and ssh clients, DNS lookups,
// web and ssh clients of its servers, the app server's database pool, a
// quarter-hourly cron fetch, the nightly backup and Sunday's updates, at
// rates that follow the time of day and the weekend. A round now and then
// is missed, and Config.Sleeps nights have the host asleep for hours.
//
// Timelines start on a Thursday, so three training days hold both
// weekdays and a weekend day. Training rounds are normal; anomalies (Kinds)
// are injected into the test rounds only, at least Spacing rounds apart, never
// across a sleep. Generation is deterministic for a seed, and the normal
// rounds do not depend on the events: the same seed without events gives the
// same rounds outside them.
package scenario

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"portwatch/pkg/sock"
	"portwatch/pkg/store"
	"slices"
	"time"
)

// Kind is a kind of injected anomaly.
type Kind string

// The anomaly kinds.
const (
	// NewListener: a TCP listener on a port the host never uses (a shell, a proxy).
	NewListener Kind = "new_listener"
	// Rebound: a loopback-only service rebound to the wildcard address.
	Rebound Kind = "rebound_wildcard"
	// Vanished: an always-on TCP service gone, with its connections.
	Vanished Kind = "listener_vanished"
	// Exhaustion: a runaway client filling the ephemeral range, ramping up over the event.
	Exhaustion Kind = "port_exhaustion"
	// OddHours: a service that has its hours (dev server, backup daemon) listening outside them.
	OddHours Kind = "unusual_time"
	// BurstOffPhase: the hourly job's burst of connections at another minute of the hour.
	BurstOffPhase Kind = "burst_off_phase"
	// ListenerOffPhase: the hourly job's loopback admin port listening at another minute of the hour.
	ListenerOffPhase Kind = "listener_off_phase"
)

// Kinds returns every kind, in report order.
func Kinds() []Kind {
	return []Kind{NewListener, Rebound, Vanished, Exhaustion, OddHours, BurstOffPhase, ListenerOffPhase}
}

// KindsFor returns the kinds a profile's timelines can hold: the off-phase
// kinds need the recurring jobs that Mixed does not run.
func KindsFor(p Profile) []Kind {
	if p == Mixed || p == "" {
		return Kinds()[:5]
	}
	return Kinds()
}

// Source is the rounds.source of written timelines.
const Source = "scenario"

// Spacing is the least number of normal rounds between two events, and
// between the training rounds and the first event.
const Spacing = 30

// Event is one injected anomaly over rounds [Start, End) of a timeline.
type Event struct {
	Kind       Kind
	Start, End int
	Port       uint16 // the port it is about; 0 for exhaustion
	Detail     string
}

// Config says what to generate.
type Config struct {
	Seed          uint64
	TrainDays     int
	TestDays      int
	EventsPerKind int
	Kinds         []Kind  // nil: all
	Sleeps        int     // nights the host sleeps for 1-4 hours
	Profile       Profile // "" is Mixed
	// JobProcess is the program of the hourly job and of its off-phase
	// bursts, "" for its own (batch-job). Name a program the host also runs
	// at other minutes (firefox, curl) to see the burst told apart by its
	// connections alone.
	JobProcess string
}

// Timeline is a generated host history.
type Timeline struct {
	Rounds []store.Round // IDs 1, 2, ... in order
	Train  int           // Rounds[:Train] are the training days, without events
	Events []Event       // by Start
	// Active holds, per round, the recurring phenomena running in it (none
	// for Mixed): what a false alarm is attributed to.
	Active []Phenomena
}

// start is a Thursday (see the package doc).
var start = time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC)

// Random streams: the host and its traffic, the events, the sleeps. Apart,
// so the normal rounds do not depend on what is injected.
const (
	streamHost = iota + 1
	streamEvents
	streamSleeps
	streamRhythm
)

// missedRound is the chance that cron misses a round.
const missedRound = 0.002

// Generate makes the timeline cfg describes.
func Generate(cfg Config) (*Timeline, error) {
	if cfg.TrainDays < 0 || cfg.TestDays < 1 {
		return nil, fmt.Errorf("generate %d training and %d test days: want at least one test day", cfg.TrainDays, cfg.TestDays)
	}
	if cfg.Profile == "" {
		cfg.Profile = Mixed
	}
	if !slices.Contains(Profiles(), cfg.Profile) {
		return nil, fmt.Errorf("unknown host profile %q; known profiles are %v", cfg.Profile, Profiles())
	}
	kinds := cfg.Kinds
	if kinds == nil {
		kinds = KindsFor(cfg.Profile)
	}
	for _, k := range kinds {
		if !slices.Contains(KindsFor(cfg.Profile), k) {
			return nil, fmt.Errorf("unknown anomaly kind %q for a %s host", k, cfg.Profile)
		}
	}
	r := rand.New(rand.NewPCG(cfg.Seed, streamHost))
	h := newHost(r)
	h.load = loads(cfg.Profile)
	h.rhythm = newRhythm(rand.New(rand.NewPCG(cfg.Seed, streamRhythm)), cfg.Profile, h)
	if h.rhythm != nil && cfg.JobProcess != "" {
		h.rhythm.job = cfg.JobProcess
	}
	days := cfg.TrainDays + cfg.TestDays
	asleep := sleeps(rand.New(rand.NewPCG(cfg.Seed, streamSleeps)), days, cfg.Sleeps)
	trainEnd := start.AddDate(0, 0, cfg.TrainDays)

	tl := &Timeline{}
	tr := &traffic{r: r, h: h, used: map[uint16]bool{}, pids: map[string]int{}}
	tr.pool()
	plans := make([]plan, days)
	for d := range plans {
		plans[d] = newPlan(r, start.AddDate(0, 0, d))
	}
	wasAsleep := false
	for m := range days * 24 * 60 {
		t := start.Add(time.Duration(m) * time.Minute)
		if asleep(t) {
			wasAsleep = true
			continue
		}
		if wasAsleep {
			tr.reset()
			tr.pool()
			wasAsleep = false
		}
		p := plans[m/(24*60)]
		act := h.rhythm.active(t)
		tr.arrivals(t, p)
		h.rhythm.arrivals(tr, act, h.load.usual(t))
		missed := r.Float64() < missedRound
		var socks []sock.Socket
		for _, s := range h.always {
			socks = append(socks, s.sockets...)
		}
		minute := m % (24 * 60)
		if p.devOn(minute) {
			socks = append(socks, h.dev.sockets...)
		}
		if p.backupOn(minute) {
			socks = append(socks, h.backup.sockets...)
		}
		socks = h.rhythm.sockets(socks, act)
		socks = tr.step(socks)
		if missed {
			continue
		}
		if t.Before(trainEnd) {
			tl.Train++
		}
		// cron starts collect on the minute; it takes a moment to begin.
		begin := t.Add(time.Duration(100+r.IntN(1900)) * time.Millisecond)
		tl.Rounds = append(tl.Rounds, store.Round{ID: int64(len(tl.Rounds) + 1), Start: begin, Sockets: canonical(socks)})
		tl.Active = append(tl.Active, act)
	}
	er := rand.New(rand.NewPCG(cfg.Seed, streamEvents))
	if err := tl.inject(er, h, plans, kinds, cfg.EventsPerKind); err != nil {
		return nil, err
	}
	return tl, nil
}

// sleeps returns when the host is asleep: n nights, from a random hour
// before 04:00, for 1 to 4 hours.
func sleeps(r *rand.Rand, days, n int) func(time.Time) bool {
	type span struct{ from, to time.Time }
	var spans []span
	for range n {
		from := start.AddDate(0, 0, r.IntN(days)).Add(time.Duration(r.IntN(4*60)) * time.Minute)
		spans = append(spans, span{from, from.Add(time.Duration(60+r.IntN(180)) * time.Minute)})
	}
	return func(t time.Time) bool {
		for _, s := range spans {
			if !t.Before(s.from) && t.Before(s.to) {
				return true
			}
		}
		return false
	}
}

// canonical orders sockets as the database returns them and drops repeats
// of a (port, protocol, family, address, state), keeping the first, as the
// store's INSERT OR IGNORE does.
func canonical(s []sock.Socket) []sock.Socket {
	slices.SortStableFunc(s, compareSockets)
	return slices.CompactFunc(s, func(a, b sock.Socket) bool { return compareSockets(a, b) == 0 })
}

func compareSockets(a, b sock.Socket) int {
	switch {
	case a.Port != b.Port:
		return int(a.Port) - int(b.Port)
	case a.Protocol != b.Protocol:
		return cmp.Compare(a.Protocol.String(), b.Protocol.String())
	case a.Family != b.Family:
		return a.Family - b.Family
	case a.Address != b.Address:
		return cmp.Compare(a.Address.String(), b.Address.String())
	}
	return cmp.Compare(a.State.String(), b.State.String())
}
