package scenario

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"portwatch/pkg/sock"
)

// unusualPorts are ports a compromised or misused host tends to open.
var unusualPorts = []uint16{4444, 1337, 31337, 6667, 9001, 5555, 8081, 2222, 12345, 50050, 1080, 5900, 7777, 9999, 10000, 20000, 27017}

// durations are each kind's event length in rounds, [min, max].
func durations(k Kind) (int, int) {
	switch k {
	case Exhaustion:
		return 3, 8
	case Vanished:
		return 5, 15
	case BurstOffPhase, ListenerOffPhase:
		return 1, 3
	}
	return 5, 20
}

// placeTries bounds the search for a free stretch of rounds for one event.
const placeTries = 5000

// inject places n events of each kind in the test rounds and applies them.
func (tl *Timeline) inject(r *rand.Rand, h *host, plans []plan, kinds []Kind, n int) error {
	taken := make([]bool, len(tl.Rounds))
	// Odd hours first: it has the fewest places to go.
	order := slices.Clone(kinds)
	slices.SortStableFunc(order, func(a, b Kind) int {
		return boolInt(b == OddHours) - boolInt(a == OddHours)
	})
	for _, k := range order {
		for range n {
			ev, err := tl.place(r, h, plans, k, taken)
			if err != nil {
				return err
			}
			tl.Events = append(tl.Events, ev)
		}
	}
	slices.SortFunc(tl.Events, func(a, b Event) int { return a.Start - b.Start })
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// place finds a free, unbroken stretch of test rounds for an event of kind
// k, applies the event to it and returns it.
func (tl *Timeline) place(r *rand.Rand, h *host, plans []plan, k Kind, taken []bool) (Event, error) {
	lo, hi := durations(k)
	for range placeTries {
		d := lo + r.IntN(hi-lo+1)
		room := len(tl.Rounds) - tl.Train - Spacing - d
		if room <= 0 {
			break
		}
		s := tl.Train + Spacing + r.IntN(room)
		// The odd-hours service is picked per try: its hours decide where it fits.
		svc, odd := h.dev, oddForDev
		if r.IntN(2) == 0 {
			svc, odd = h.backup, oddForBackup
		}
		if !tl.free(taken, s, s+d) || (k == OddHours && !tl.all(s, s+d, odd)) ||
			!h.rhythm.fits(k, tl.Rounds[s].Start, d) || (k == Vanished || k == Rebound) && tl.during(s, s+d, NightlyRestart) {
			continue
		}
		for i := s; i < s+d; i++ {
			taken[i] = true
		}
		ev := Event{Kind: k, Start: s, End: s + d}
		tl.apply(r, h, svc, &ev)
		return ev, nil
	}
	return Event{}, fmt.Errorf("place %s events in %d test rounds: no room left; lower the events per kind or add test days",
		k, len(tl.Rounds)-tl.Train)
}

// free reports whether [s, e) is unbroken (no sleep inside: rounds at most
// a missed round apart) and no event lies within Spacing rounds of it.
func (tl *Timeline) free(taken []bool, s, e int) bool {
	for i := max(tl.Train, s-Spacing); i < min(len(taken), e+Spacing); i++ {
		if taken[i] {
			return false
		}
	}
	for i := s + 1; i < e; i++ {
		if tl.Rounds[i].Start.Sub(tl.Rounds[i-1].Start) > 150*time.Second {
			return false
		}
	}
	return true
}

// during reports whether p runs in any of the rounds [s, e): a service
// restarting is no place to make it vanish or rebind.
func (tl *Timeline) during(s, e int, p Phenomenon) bool {
	for _, a := range tl.Active[s:e] {
		if a.Has(p) {
			return true
		}
	}
	return false
}

func (tl *Timeline) all(s, e int, ok func(time.Time) bool) bool {
	for i := s; i < e; i++ {
		if !ok(tl.Rounds[i].Start) {
			return false
		}
	}
	return true
}

// oddForDev: hours at least three hours from any office day's.
func oddForDev(t time.Time) bool { return t.Hour() < 5 || t.Hour() >= 21 }

// oddForBackup: daytime, far from the nightly run.
func oddForBackup(t time.Time) bool { return t.Hour() >= 8 && t.Hour() < 23 }

// apply changes the event's rounds and fills in its port and detail.
func (tl *Timeline) apply(r *rand.Rand, h *host, odd service, ev *Event) {
	rounds := tl.Rounds[ev.Start:ev.End]
	switch ev.Kind {
	case NewListener:
		port := unusualPorts[r.IntN(len(unusualPorts))]
		for h.reserved[port] {
			port = unusualPorts[r.IntN(len(unusualPorts))]
		}
		proc := []string{"nc", "python3", "socat", "ncat"}[r.IntN(4)]
		s := tcpListen(port, 4, "0.0.0.0")
		if r.IntN(3) == 0 {
			s = tcpListen(port, 6, "::")
		}
		s.PID, s.Process = 1000+r.IntN(60000), proc
		ev.Port, ev.Detail = port, fmt.Sprintf("tcp %s port %d listen by %s", s.Address, port, proc)
		for i := range rounds {
			rounds[i].Sockets = canonical(append(rounds[i].Sockets, s))
		}
	case Rebound:
		svc := h.loopback[r.IntN(len(h.loopback))]
		ev.Port, ev.Detail = svc.port, fmt.Sprintf("%s rebound from loopback to the wildcard address", svc.sockets[0].Process)
		for i := range rounds {
			socks := rounds[i].Sockets
			for j := range socks {
				if s := &socks[j]; svc.binds(s) && s.Address.IsLoopback() {
					s.Address = wildcardOf(s.Family)
				}
			}
			rounds[i].Sockets = canonical(socks)
		}
	case Vanished:
		svc := h.vanishable[r.IntN(len(h.vanishable))]
		ev.Port, ev.Detail = svc.port, fmt.Sprintf("%s gone, with its connections", svc.sockets[0].Process)
		for i := range rounds {
			rounds[i].Sockets = slices.DeleteFunc(rounds[i].Sockets, func(s sock.Socket) bool {
				return s.Protocol == sock.TCP && svc.hasPort(s.Port)
			})
		}
	case BurstOffPhase:
		rh := h.rhythm
		ev.Detail = fmt.Sprintf("the hourly job's burst at minute %d, not %d", rounds[0].Start.Minute(), rh.burstMinute)
		for i := range rounds {
			n := poisson(r, rh.burstFactor*h.load.usual(rounds[i].Start))
			rounds[i].Sockets = addEphemeral(r, h, rounds[i].Sockets, n, func(s *sock.Socket) {
				s.State, s.PID, s.Process = sock.Established, 0, rh.job
			})
		}
	case ListenerOffPhase:
		rh := h.rhythm
		ev.Port = rh.admin.port
		ev.Detail = fmt.Sprintf("%s listening at minute %d, not %d", rh.admin.sockets[0].Process, rounds[0].Start.Minute(), rh.adminMinute)
		for i := range rounds {
			rounds[i].Sockets = canonical(append(rounds[i].Sockets, rh.admin.sockets...))
		}
	case Exhaustion:
		peak := int((0.6 + 0.4*r.Float64()) * (ephemeralHigh - ephemeralLow + 1))
		ev.Detail = fmt.Sprintf("a runaway client ramping to %d ephemeral ports", peak)
		pid := 1000 + r.IntN(60000)
		for i := range rounds {
			rounds[i].Sockets = exhaust(r, h, rounds[i].Sockets, peak*(i+1)/len(rounds), pid)
		}
	case OddHours:
		ev.Port = odd.port
		ev.Detail = fmt.Sprintf("%s listening at %s", odd.sockets[0].Process, rounds[0].Start.Format("Mon 15:04"))
		for i := range rounds {
			rounds[i].Sockets = canonical(append(rounds[i].Sockets, odd.sockets...))
		}
	}
}

// exhaust adds n TCP sockets on free ephemeral ports, most in time-wait.
func exhaust(r *rand.Rand, h *host, socks []sock.Socket, n, pid int) []sock.Socket {
	return addEphemeral(r, h, socks, n, func(s *sock.Socket) {
		if r.IntN(5) == 0 {
			s.State, s.PID, s.Process = sock.Established, pid, "python3"
		}
	})
}

// addEphemeral adds n time-wait TCP sockets on free ephemeral ports, each
// passed to set first.
func addEphemeral(r *rand.Rand, h *host, socks []sock.Socket, n int, set func(*sock.Socket)) []sock.Socket {
	inUse := map[uint16]bool{}
	for _, s := range socks {
		if s.Protocol == sock.TCP {
			inUse[s.Port] = true
		}
	}
	var free []uint16
	for p := ephemeralLow; p <= ephemeralHigh; p++ {
		if !inUse[uint16(p)] && !h.reserved[uint16(p)] {
			free = append(free, uint16(p))
		}
	}
	r.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
	for _, p := range free[:min(n, len(free))] {
		s := sock.Socket{Port: p, Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr(hostIP4), State: sock.TimeWait}
		set(&s)
		socks = append(socks, s)
	}
	return canonical(socks)
}

func wildcardOf(family int) netip.Addr {
	if family == 6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

// binds reports whether s is one of the service's listening sockets.
func (s service) binds(x *sock.Socket) bool {
	return x.Protocol == sock.TCP && x.State == sock.Listen && s.hasPort(x.Port)
}

func (s service) hasPort(port uint16) bool {
	for _, b := range s.sockets {
		if b.Port == port {
			return true
		}
	}
	return false
}
