// Package pcaptl makes labelled capture timelines from real captures, to
// measure traffic detectors on: minutes of real background traffic with
// real scans, floods, DNS tunnels and bots injected at known minutes,
// written as one pcap file and a ground-truth list.
//
// Background. The background captures (DefaultInputs: the benchmark merge
// of 480 real captures and the ordinary DNS and TLS captures) are cut into
// source chunks where a capture pauses for over 10 s or its time goes back
// over 1 s (the merge jumps between sources years apart), and the chunks
// into pieces of under 59 s. Each minute is filled with pieces one after
// another, the first at the minute's start, each piece keeping its frames'
// spacing, a random pause of up to 3 s between pieces; a piece that would
// not end in the minute opens the next one. A seeded share of the chunks
// (30 %) is held out of training: training minutes deal only the others,
// test minutes deal all of them, so the test draws traffic of sources
// never seen in training.
//
// Events. Each event replays one capture of its kind (see DefaultInputs)
// at a random offset into its first minute, keeping its spacing, so a long
// capture spreads over consecutive minutes (the FTP bounce scan over 17 or
// 18); a capture spanning over 20 min (its clock jumping about) is
// squeezed into 50 s, and a long one may be cut (Cut). The event's rounds
// are the minutes its frames fall in. Events lie in the test period, in
// equal slots, at least Spacing minutes apart and from its ends.
//
// Frames are written unchanged but for their time: shifted, and truncated
// to the microsecond a pcap holds. Every minute has a background frame at
// its very start, so `collect --pcap FILE -r 60` opens a round at each
// minute (a round starts at its first frame and the next at the first
// frame at or after its start + 60 s) and capture round i is minute i.
// Cutter cuts rounds the same way for the baselines.
//
// The monitored side (Timeline.Local, for collect's --local) is the
// private ranges 10/8, 172.16/12, 192.168/16 and fc00::/7, where the
// captures' LAN hosts and victims are, plus the victims of event captures
// made on public addresses (EventSource.Local).
//
// Everything is deterministic for a seed, and the background does not
// depend on the events: its random draws are apart from theirs.
package pcaptl

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// Kind is a kind of injected event.
type Kind string

// The event kinds.
const (
	Scan      Kind = "scan"       // port scans: nmap, xscan and smaller ones
	Flood     Kind = "flood"      // SYN floods, reflection and amplification
	DNSTunnel Kind = "dns_tunnel" // DNS tunnels and exfiltration-like lookups
	Bot       Kind = "bot"        // bot and worm scanning, brute force
)

// Kinds returns every kind, in report order.
func Kinds() []Kind { return []Kind{Scan, Flood, DNSTunnel, Bot} }

// DefaultStart is where timelines start unless told: a Monday, midnight UTC.
var DefaultStart = time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)

// Spacing is the least number of minutes between two events, and between
// an event and either end of the test period.
const Spacing = 12

// Config says what timeline to make.
type Config struct {
	Seed          uint64
	TrainMinutes  int       // background only, first
	TestMinutes   int       // background with the events
	EventsPerKind int       // for each kind the inputs have sources of
	Start         time.Time // a whole minute; zero for DefaultStart
}

// Validate checks what does not need the inputs.
func (cfg Config) Validate() error {
	switch {
	case cfg.TrainMinutes < 1 || cfg.TestMinutes < 1:
		return fmt.Errorf("timeline of %d training and %d test minutes: want at least one of each", cfg.TrainMinutes, cfg.TestMinutes)
	case cfg.EventsPerKind < 0:
		return fmt.Errorf("%d events per kind: want 0 or more", cfg.EventsPerKind)
	case !cfg.Start.Equal(cfg.Start.Truncate(time.Minute)):
		return fmt.Errorf("timeline start %v: want a whole minute", cfg.Start)
	}
	return nil
}

// Event is one injected event.
type Event struct {
	Kind   Kind
	Source string        // EventSource.Name
	Minute int           // its first minute, an index into the timeline
	Rounds int           // minutes it spans: Minute .. Minute+Rounds-1
	Offset time.Duration // from the start of its first minute to its first frame
	Frames int
}

// Timeline is a generated capture timeline.
type Timeline struct {
	Seed           uint64
	Start          time.Time
	Minutes, Train int
	Local          []netip.Prefix // the monitored side, for collect's --local
	Events         []Event        // by minute
	PerMinute      []int          // frames in each minute
	Background     BackgroundStats

	minutes [][]frame // each minute's frames by offset in it
	chunks  [][]int   // the background chunks each minute drew from
	novel   []bool    // per chunk: held out of training
}

// BackgroundStats say what the background drew.
type BackgroundStats struct {
	Chunks, Novel int // source chunks, and those held out of training
	TrainChunks   int // distinct chunks drawn in training
	TestChunks    int // distinct chunks drawn in the test period
	NovelInTest   int // distinct held-out chunks drawn in the test period
	NovelMinutes  int // test minutes with a held-out chunk in them
}

// Frames is the number of frames in the timeline.
func (tl *Timeline) Frames() int {
	n := 0
	for _, c := range tl.PerMinute {
		n += c
	}
	return n
}

// MinuteStart is the time minute m starts at.
func (tl *Timeline) MinuteStart(m int) time.Time { return tl.Start.Add(time.Duration(m) * time.Minute) }

// Random streams: the background, the split and the events draw apart.
const (
	streamSplit uint64 = iota + 1
	streamBackground
	streamEvents
)

func rng(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }

// Timeline makes the timeline cfg asks for.
func (l *Library) Timeline(cfg Config) (*Timeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Start.IsZero() {
		cfg.Start = DefaultStart
	}
	n := cfg.TrainMinutes + cfg.TestMinutes
	tl := &Timeline{Seed: cfg.Seed, Start: cfg.Start.UTC(), Minutes: n, Train: cfg.TrainMinutes, Local: slices.Clone(l.local),
		minutes: make([][]frame, n), chunks: make([][]int, n), novel: split(rng(cfg.Seed, streamSplit), len(l.groups))}
	l.background(tl, rng(cfg.Seed, streamBackground))
	if err := l.inject(tl, cfg.EventsPerKind, rng(cfg.Seed, streamEvents)); err != nil {
		return nil, err
	}
	tl.PerMinute = make([]int, n)
	for m, fs := range tl.minutes {
		slices.SortStableFunc(fs, byOffset)
		tl.PerMinute[m] = len(fs)
	}
	return tl, nil
}

// background fills every minute: training from the chunks not held out,
// the test period from all.
func (l *Library) background(tl *Timeline, r *rand.Rand) {
	var seen [][]piece
	for g, pieces := range l.groups {
		if !tl.novel[g] {
			seen = append(seen, pieces)
		}
	}
	train, test := newDeck(r, seen), newDeck(r, l.groups)
	for m := range tl.minutes {
		d := test
		if m < tl.Train {
			d = train
		}
		tl.minutes[m], tl.chunks[m] = fill(d, r)
	}
	tl.Background = tl.backgroundStats()
}

func (tl *Timeline) backgroundStats() BackgroundStats {
	st := BackgroundStats{Chunks: len(tl.novel)}
	for _, n := range tl.novel {
		if n {
			st.Novel++
		}
	}
	trained, tested, novel := map[int]bool{}, map[int]bool{}, map[int]bool{}
	for m, groups := range tl.chunks {
		hasNovel := false
		for _, g := range groups {
			switch {
			case m < tl.Train:
				trained[g] = true
			case tl.novel[g]:
				novel[g], tested[g], hasNovel = true, true, true
			default:
				tested[g] = true
			}
		}
		if hasNovel {
			st.NovelMinutes++
		}
	}
	st.TrainChunks, st.TestChunks, st.NovelInTest = len(trained), len(tested), len(novel)
	return st
}

// inject places perKind events of each kind with sources, in equal slots
// of the test period, kinds in a random order over the slots, each kind's
// sources dealt in a random order and again when all are used.
func (l *Library) inject(tl *Timeline, perKind int, r *rand.Rand) error {
	var plan []*event
	for _, k := range Kinds() {
		var srcs []*event
		for i := range l.events {
			if l.events[i].src.Kind == k {
				srcs = append(srcs, &l.events[i])
			}
		}
		for i := 0; i < perKind && len(srcs) > 0; i++ {
			if i%len(srcs) == 0 {
				r.Shuffle(len(srcs), func(a, b int) { srcs[a], srcs[b] = srcs[b], srcs[a] })
			}
			plan = append(plan, srcs[i%len(srcs)])
		}
	}
	if len(plan) == 0 {
		return nil
	}
	r.Shuffle(len(plan), func(a, b int) { plan[a], plan[b] = plan[b], plan[a] })
	first, room := tl.Train+Spacing, tl.Minutes-tl.Train-Spacing
	slot := room / len(plan)
	for i, ev := range plan {
		// An event that fits in a minute stays in one; a longer one starts anywhere in its first.
		within := 58 * time.Second
		if ev.span < 57*time.Second {
			within -= ev.span
		}
		offset := micro(time.Second + time.Duration(r.Int64N(int64(within))))
		rounds := int((offset+ev.span)/time.Minute) + 1
		free := slot - Spacing - rounds
		if free < 0 {
			return fmt.Errorf("%d events in %d test minutes: %s needs %d minutes and %d more before the next; ask for fewer events or more test hours",
				len(plan), tl.Minutes-tl.Train, ev.src.Name(), rounds, Spacing)
		}
		m := first + i*slot + r.IntN(free+1)
		for _, f := range ev.frames {
			at := offset + f.at
			mm := m + int(at/time.Minute)
			f.at = at % time.Minute
			tl.minutes[mm] = append(tl.minutes[mm], f)
		}
		tl.Events = append(tl.Events, Event{Kind: ev.src.Kind, Source: ev.src.Name(), Minute: m, Rounds: rounds, Offset: offset, Frames: len(ev.frames)})
	}
	return nil
}
