package features

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"portwatch/pkg/sock"
	"portwatch/pkg/store"
	"portwatch/pkg/traffic"
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
	TCPIn              = "tcp_in"
	UDPIn              = "udp_in"
	PeersIn            = "peers_in"
	Clock              = "clock"
)

// OccupancyChannels returns the three channels a scan fills directly. The
// channels of the models detect builds are pkg/modelfile's DefaultChannels.
func OccupancyChannels() []string { return []string{TCPListen, UDPBound, TCPConn} }

// TrafficChannels returns the per-port channels of a round's traffic
// summary.
func TrafficChannels() []string { return []string{SYNIn, TCPIn, UDPIn, PeersIn} }

// CaptureChannels returns the channels of a model of capture rounds: the
// addresses each local port heard from. Packet and SYN counts are left
// out: most inbound packets are replies to the host's own clients on
// ephemeral ports fresh each time, and a neighbour polling a service opens
// a connection a second, so a busy download, a media stream or a poller in
// a minute training never saw lit a port the model ruled out; many peers
// on one port is what floods and sweeps show, and the traffic statistics
// judge the counts against calibrated limits.
func CaptureChannels() []string { return []string{PeersIn} }

// countCap is the count that fills a traffic channel to 1.
const countCap = 1024

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
	return []string{TCPListen, UDPBound, TCPConn, TCPListenWildcard, TCPListenLoopback, TCPListenContainer,
		SYNIn, TCPIn, UDPIn, PeersIn, Clock}
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

// Traffic reports whether a channel is read from the rounds' traffic
// summaries, so the rounds must be read with them (store.RoundQuery.Traffic).
func (l Layout) Traffic() bool {
	for _, n := range l.names {
		if isTraffic(n) {
			return true
		}
	}
	return false
}

// Occupancy reports whether a channel is read from the rounds' socket
// scans. A layout without one is a model of traffic alone: it scores the
// rounds with a traffic summary (capture files' rounds among them), where
// an occupancy model scores the scanned ones.
func (l Layout) Occupancy() bool {
	for _, n := range l.names {
		if !isTraffic(n) && n != Clock {
			return true
		}
	}
	return false
}

func isTraffic(name string) bool { return slices.Contains(TrafficChannels(), name) }

// trafficPorts calls f with each port of r's inbound traffic (to a local
// address) that channel name counts, and its count; nothing without a
// summary, so a round with no capture reads as no traffic, not as silence.
func trafficPorts(name string, r *store.Round, f func(port uint16, n int64)) {
	if r.Traffic == nil {
		return
	}
	// Ports are ordered by port then protocol, so a port's tcp and udp rows
	// are adjacent; peers_in takes the larger.
	for _, p := range r.Traffic.Ports {
		if p.Direction != traffic.In {
			continue
		}
		switch {
		case name == SYNIn && p.Protocol == "tcp" && p.SYNs > 0:
			f(p.Port, p.SYNs)
		case name == TCPIn && p.Protocol == "tcp":
			f(p.Port, p.Packets)
		case name == UDPIn && p.Protocol == "udp":
			f(p.Port, p.Packets)
		case name == PeersIn:
			f(p.Port, p.Peers)
		}
	}
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
		switch {
		case isTraffic(name):
			trafficPorts(name, r, func(port uint16, n int64) { row[port] = max(row[port], countScale(n)) })
			continue
		case name == Clock:
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
	switch name := l.names[c]; {
	case isTraffic(name):
		trafficPorts(name, r, func(port uint16, _ int64) {
			if len(out) == 0 || out[len(out)-1] != port {
				out = append(out, port)
			}
		})
		return out
	case name == Clock:
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

// countScale is a traffic cell's value for a count of n:
// min(1, log1p(n)/log1p(countCap)), so 1 is 0.1 and 1024 or more are 1.
func countScale(n int64) float32 {
	if n >= countCap {
		return 1
	}
	return float32(math.Log1p(float64(n)) / math.Log1p(countCap))
}

// Listening reports whether channel holds listening sockets: services, which
// a detector never pools with other ports (a listener on a port never used
// is news whatever its number) and whose lags a portae v2 model looks up.
func Listening(channel string) bool {
	switch channel {
	case TCPListen, TCPListenWildcard, TCPListenLoopback, TCPListenContainer:
		return true
	}
	return false
}
