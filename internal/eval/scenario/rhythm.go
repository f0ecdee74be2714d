package scenario

import (
	"fmt"
	"math/rand/v2"
	"time"

	"portwatch/pkg/sock"
)

// Profile is the kind of host a timeline is of.
type Profile string

// The host profiles. Mixed is the server-cum-workstation of the package doc
// and has no recurring jobs beyond its quarter-hourly fetch, nightly backup
// and Sunday updates; the others add the recurring phenomena (see
// Phenomenon) a real server or workstation runs.
const (
	Mixed       Profile = "mixed"
	Server      Profile = "server"
	BusyServer  Profile = "busy-server"
	Workstation Profile = "workstation"
)

// Profiles returns every profile, in report order.
func Profiles() []Profile { return []Profile{Mixed, Server, BusyServer, Workstation} }

// Phenomenon is a recurring, normal piece of a host's work: what a detector
// must learn to read as normal at its phase and as an anomaly at another.
type Phenomenon uint8

// The recurring phenomena, as bits of Timeline.Active.
const (
	// HourlyBurst: a job at a fixed minute of every hour opening 2-10x the
	// host's usual rate of client connections for a minute or two.
	HourlyBurst Phenomenon = 1 << iota
	// QuarterHourly: a scrape every 15 minutes (inbound to node_exporter,
	// outbound fetches).
	QuarterHourly
	// PeriodicListener: an hourly batch job's loopback admin port, listening
	// for two minutes each hour.
	PeriodicListener
	// NightlyRestart: a listening service restarted every night, gone for
	// one minute.
	NightlyRestart
	// Weekly: a weekly job with its own loopback listener and a burst of
	// connections.
	Weekly
)

// EveryPhenomenon returns every phenomenon, in report order.
func EveryPhenomenon() []Phenomenon {
	return []Phenomenon{HourlyBurst, QuarterHourly, PeriodicListener, NightlyRestart, Weekly}
}

func (p Phenomenon) String() string {
	switch p {
	case HourlyBurst:
		return "hourly_burst"
	case QuarterHourly:
		return "quarter_hourly"
	case PeriodicListener:
		return "periodic_listener"
	case NightlyRestart:
		return "nightly_restart"
	case Weekly:
		return "weekly_job"
	}
	return fmt.Sprintf("phenomenon(%d)", uint8(p))
}

// Phenomena is a set of phenomena: the ones active in a round.
type Phenomena uint8

// Has reports whether p is in the set.
func (s Phenomena) Has(p Phenomenon) bool { return s&Phenomena(p) != 0 }

// rhythm is a host's recurring jobs and their phases, drawn once per host.
type rhythm struct {
	burstMinute  int     // minute of the hour the hourly job starts
	burstFactor  float64 // times the usual client rate
	burstLen     int     // rounds the job runs: 1 or 2
	job          string  // the hourly job's program
	quarter      int     // offset of the quarter-hourly scrape, 0..14
	admin        service // the hourly job's loopback admin listener
	adminMinute  int     // minute of the hour it starts listening, for two minutes
	restarted    service // the service restarted every night
	restartAt    int     // minute of the day it is gone
	weekly       service // the weekly job's loopback listener
	weeklyDay    time.Weekday
	weeklyMinute int // minute of the day it starts, for weeklyLen minutes
	scale        float64
}

// weeklyLen is how many minutes the weekly job runs.
const weeklyLen = 25

// adminLen is how many rounds the periodic listener lives each hour.
const adminLen = 2

// newRhythm draws a host's recurring jobs from r, its own random stream, so
// that profiles without a rhythm generate the same rounds as before.
func newRhythm(r *rand.Rand, p Profile, h *host) *rhythm {
	if p == Mixed {
		return nil
	}
	rh := &rhythm{
		burstFactor: 2 + 8*r.Float64(),
		burstLen:    1 + r.IntN(2),
		job:         "batch-job",
		quarter:     r.IntN(15),
		adminMinute: r.IntN(60),
		restartAt:   3*60 + r.IntN(3*60),
		weeklyDay:   time.Weekday(r.IntN(7)),
		scale:       1,
	}
	// The server: a job at minute 0; the others anywhere.
	if p != Server {
		rh.burstMinute = r.IntN(60)
	}
	if p == BusyServer {
		rh.scale = 5
	}
	rh.weeklyMinute = 60 + r.IntN(4*60)
	adminPort := uint16(8100 + r.IntN(100))
	weeklyPort := uint16(7100 + r.IntN(100))
	rh.admin = newService(r, "batch-admin", tcpListen(adminPort, 4, "127.0.0.1"))
	rh.weekly = newService(r, "weekly-report", tcpListen(weeklyPort, 4, "127.0.0.1"), tcpListen(weeklyPort, 6, "::1"))
	rh.restarted = h.vanishable[r.IntN(len(h.vanishable))]
	for _, s := range []service{rh.admin, rh.weekly} {
		for _, b := range s.sockets {
			h.reserved[b.Port] = true
		}
	}
	return rh
}

// active returns the phenomena running at t.
func (rh *rhythm) active(t time.Time) Phenomena {
	if rh == nil {
		return 0
	}
	var s Phenomena
	m := t.Minute()
	if sinceMinute(m, rh.burstMinute) < rh.burstLen {
		s |= Phenomena(HourlyBurst)
	}
	if (m-rh.quarter)%15 == 0 {
		s |= Phenomena(QuarterHourly)
	}
	if sinceMinute(m, rh.adminMinute) < adminLen {
		s |= Phenomena(PeriodicListener)
	}
	day := t.Hour()*60 + m
	if day == rh.restartAt {
		s |= Phenomena(NightlyRestart)
	}
	if t.Weekday() == rh.weeklyDay && day >= rh.weeklyMinute && day < rh.weeklyMinute+weeklyLen {
		s |= Phenomena(Weekly)
	}
	return s
}

// sinceMinute is how many minutes of the hour m is after start, 0..59.
func sinceMinute(m, start int) int { return ((m-start)%60 + 60) % 60 }

// arrivals opens the connections of the phenomena in s.
func (rh *rhythm) arrivals(tr *traffic, s Phenomena, usual float64) {
	if rh == nil {
		return
	}
	r := tr.r
	if s.Has(HourlyBurst) {
		tr.open(poisson(r, rh.burstFactor*usual), 0, sock.TCP, 4, hostIP4, rh.job, 1)
	}
	if s.Has(QuarterHourly) {
		tr.open(poisson(r, 4*rh.scale), 9100, sock.TCP, 6, hostIP6, "node_exporter", 0)
		tr.open(poisson(r, 6), 0, sock.TCP, 4, hostIP4, "curl", 0)
	}
	if s.Has(PeriodicListener) {
		tr.open(poisson(r, 3), rh.admin.port, sock.TCP, 4, "127.0.0.1", "batch-admin", 0)
		tr.open(poisson(r, 3), 0, sock.TCP, 4, "127.0.0.1", rh.job, 0)
	}
	if s.Has(Weekly) {
		tr.open(poisson(r, 20), 0, sock.TCP, 4, hostIP4, "weekly-report", 1)
		tr.open(poisson(r, 2), rh.weekly.port, sock.TCP, 4, "127.0.0.1", "weekly-report", 1)
	}
}

// sockets changes a round's listeners for the phenomena in s.
func (rh *rhythm) sockets(socks []sock.Socket, s Phenomena) []sock.Socket {
	if rh == nil {
		return socks
	}
	if s.Has(PeriodicListener) {
		socks = append(socks, rh.admin.sockets...)
	}
	if s.Has(Weekly) {
		socks = append(socks, rh.weekly.sockets...)
	}
	if s.Has(NightlyRestart) {
		out := socks[:0]
		for _, x := range socks {
			if !rh.restarted.binds(&x) {
				out = append(out, x)
			}
		}
		socks = out
	}
	return socks
}

// offPhase is how far, in minutes of the hour, an off-phase event starts
// from the job's own minute at least.
const offPhase = 10

// farFrom reports whether an event starting at t and lasting d minutes stays
// offPhase minutes clear of the minutes [start, start+n) of every hour.
func farFrom(t time.Time, d, start, n int) bool {
	for i := range d {
		m := (t.Minute() + i) % 60
		if gap := min(sinceMinute(m, start+n-1), sinceMinute(start, m)); gap < offPhase {
			return false
		}
	}
	return true
}

// fits reports whether an event of kind k may start at t and last d rounds:
// the off-phase kinds keep clear of their job's own minutes.
func (rh *rhythm) fits(k Kind, t time.Time, d int) bool {
	switch k {
	case BurstOffPhase:
		return rh != nil && farFrom(t, d, rh.burstMinute, rh.burstLen)
	case ListenerOffPhase:
		return rh != nil && farFrom(t, d, rh.adminMinute, adminLen)
	}
	return true
}
