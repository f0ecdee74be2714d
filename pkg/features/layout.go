package features

import (
	"fmt"
	"math"
	"portwatch/pkg/sock"
	"portwatch/pkg/store"
	"strings"
	"time"
)

// Ports is the width of a channel: one value per port number 0..65535.
const Ports = 65536

// Channel names, as models list them in portwatch.channels.
const (
	TCPListen         = "tcp_listen"
	UDPBound          = "udp_bound"
	TCPConn           = "tcp_conn"
	TCPListenWildcard = "tcp_listen_wildcard"
	TCPListenLoopback = "tcp_listen_loopback"
	// TCPListenContainer is tcp_listen for the listeners outside the host's own network
	// namespace only: a container's 0.0.0.0:8080 is not the host's.
	TCPListenContainer = "tcp_listen_container"
	SYNIn              = "syn_in"
	Clock              = "clock"
)

// OccupancyChannels returns the three channels a scan fills directly. The
// channels of the models detect builds are pkg/modelfile's DefaultChannels.
func OccupancyChannels() []string { return []string{TCPListen, UDPBound, TCPConn} }

// synCap is the SYN count that fills syn_in to 1.
const synCap = 1024

// Layout is a checked, ordered channel list.
type Layout struct {
	names []string
}

// NewLayout checks names and returns their layout, in the order given. It
// refuses unknown and repeated names, naming them.
func NewLayout(names []string) (Layout, error) {
	if len(names) == 0 {
		return Layout{}, fmt.Errorf("no channels; known channels are %s", strings.Join(known(), ", "))
	}
	var unknown []string
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if seen[n] {
			return Layout{}, fmt.Errorf("channel %q listed twice", n)
		}
		seen[n] = true
		if !isChannel(n) {
			unknown = append(unknown, fmt.Sprintf("%q", n))
		}
	}
	if len(unknown) > 0 {
		return Layout{}, fmt.Errorf("unknown channels %s; known channels are %s",
			strings.Join(unknown, ", "), strings.Join(known(), ", "))
	}
	return Layout{names: append([]string(nil), names...)}, nil
}

func known() []string {
	return []string{TCPListen, UDPBound, TCPConn, TCPListenWildcard, TCPListenLoopback, TCPListenContainer, SYNIn, Clock}
}

func isChannel(name string) bool {
	for _, k := range known() {
		if k == name {
			return true
		}
	}
	return false
}

// Channels returns the channel names in order.
func (l Layout) Channels() []string { return append([]string(nil), l.names...) }

// C returns the number of channels.
func (l Layout) C() int { return len(l.names) }

// Packets reports whether a channel is derived from packets, so the rounds
// must be read with them (store.RoundQuery.Packets).
func (l Layout) Packets() bool {
	for _, n := range l.names {
		if n == SYNIn {
			return true
		}
	}
	return false
}

// FillRound writes r as [C, 65536] into dst, which must hold exactly C*65536
// values; everything else in dst is set to 0.
func (l Layout) FillRound(dst []float32, r *store.Round) error {
	if len(dst) != l.C()*Ports {
		return fmt.Errorf("fill round %d: buffer holds %d values, want %d", r.ID, len(dst), l.C()*Ports)
	}
	clear(dst)
	for c, name := range l.names {
		row := dst[c*Ports : (c+1)*Ports]
		switch name {
		case SYNIn:
			for _, pc := range r.SYN {
				row[pc.Port] = synScale(pc.N)
			}
			continue
		case Clock:
			for _, p := range clock(r.Start) {
				row[p] = 1
			}
			continue
		}
		for i := range r.Sockets {
			if s := &r.Sockets[i]; on(name, s) {
				row[s.Port] = 1
			}
		}
	}
	return nil
}

// Fill writes w as [T, C, 65536] into dst, which must hold exactly
// len(w.Rounds)*C*65536 values.
func (l Layout) Fill(dst []float32, w Window) error {
	plane := l.C() * Ports
	if len(dst) != len(w.Rounds)*plane {
		return fmt.Errorf("fill window of round %d: buffer holds %d values, want %d",
			w.Last().ID, len(dst), len(w.Rounds)*plane)
	}
	for t, r := range w.Rounds {
		if err := l.FillRound(dst[t*plane:(t+1)*plane], r); err != nil {
			return err
		}
	}
	return nil
}

// Ports returns the ports channel c is set on in r, ascending: the round's
// sparse port set for that channel.
func (l Layout) Ports(r *store.Round, c int) []uint16 {
	var out []uint16
	switch l.names[c] {
	case SYNIn:
		for _, pc := range r.SYN {
			out = append(out, pc.Port)
		}
		return out
	case Clock:
		c := clock(r.Start)
		return c[:]
	}
	for i := range r.Sockets {
		s := &r.Sockets[i]
		// Sockets are ordered by port, so a repeat follows its first.
		if on(l.names[c], s) && (len(out) == 0 || out[len(out)-1] != s.Port) {
			out = append(out, s.Port)
		}
	}
	return out
}

// Explain returns the sockets of r that put port on channel c: what a
// detector names when that value looks wrong. Packet channels have none.
func (l Layout) Explain(r *store.Round, c int, port uint16) []sock.Socket {
	var out []sock.Socket
	for i := range r.Sockets {
		if s := &r.Sockets[i]; s.Port == port && on(l.names[c], s) {
			out = append(out, *s)
		}
	}
	return out
}

// The clock channel's fields, each one-hot at the start of its own block of
// 256 ports above the ephemeral range (61000-65535 is rarely in use on any
// channel), so that portae's Conv (blocks of 64) and MaxPool (4 blocks) give
// each field features of its own instead of mixing it with the low ports'
// listeners.
const (
	clockMinute  = 61440              // minute of the hour, 0-59
	clockHour    = clockMinute + 256  // hour of the day, 0-23
	clockWeekday = clockHour + 256    // day of the week, Sunday 0
	clockQuarter = clockWeekday + 256 // minute of the quarter hour, 0-14
)

// clock returns the positions the clock channel sets for a round starting
// at t (UTC): its minute of the hour, hour of the day, day of the week and
// minute of the quarter hour. The minute is what recurring jobs keep (a
// job at minute 0, a scrape every 15 minutes); the hour and day what the
// host's rhythm does.
func clock(t time.Time) [4]uint16 {
	t = t.UTC()
	return [4]uint16{
		clockMinute + uint16(t.Minute()),
		clockHour + uint16(t.Hour()),
		clockWeekday + uint16(t.Weekday()),
		clockQuarter + uint16(t.Minute()%15),
	}
}

// IsClock reports whether channel c is the calendar, an input a model is
// given and never judged on.
func (l Layout) IsClock(c int) bool { return l.names[c] == Clock }

// FillForecast writes w as Fill does, then masks its last round: every
// channel but the clock repeats the round before, so a model given the
// window must forecast the last round from the rounds before it and the
// last round's calendar. This is how a model learns phase: the hourly job's
// burst is expected at its minute because the clock says so, not because
// the input already shows it. The window must hold at least two rounds.
func (l Layout) FillForecast(dst []float32, w Window) error {
	if len(w.Rounds) < 2 {
		return fmt.Errorf("forecast round %d: a window of %d rounds has no round before its last", w.Last().ID, len(w.Rounds))
	}
	if err := l.Fill(dst, w); err != nil {
		return err
	}
	plane := l.C() * Ports
	last, prev := dst[len(dst)-plane:], dst[len(dst)-2*plane:len(dst)-plane]
	for c := range l.names {
		if !l.IsClock(c) {
			copy(last[c*Ports:(c+1)*Ports], prev[c*Ports:(c+1)*Ports])
		}
	}
	return nil
}

// on reports whether s sets its port on the occupancy channel name.
func on(name string, s *sock.Socket) bool {
	switch name {
	case TCPListen:
		return s.Protocol == sock.TCP && s.State == sock.Listen
	case UDPBound:
		return s.Protocol == sock.UDP
	case TCPConn:
		return s.Protocol == sock.TCP && s.State != sock.Listen
	case TCPListenWildcard:
		return s.Protocol == sock.TCP && s.State == sock.Listen && s.Address.IsUnspecified()
	case TCPListenLoopback:
		return s.Protocol == sock.TCP && s.State == sock.Listen && s.Address.IsLoopback()
	case TCPListenContainer:
		return s.Protocol == sock.TCP && s.State == sock.Listen && s.Netns.Foreign()
	}
	return false
}

func synScale(n int) float32 {
	if n >= synCap {
		return 1
	}
	return float32(math.Log1p(float64(n)) / math.Log1p(synCap))
}
