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

// clock returns the positions the clock channel sets for a round starting
// at t: its hour of the day and, after those, its day of the week (UTC).
func clock(t time.Time) [2]uint16 {
	t = t.UTC()
	return [2]uint16{uint16(t.Hour()), 24 + uint16(t.Weekday())}
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
