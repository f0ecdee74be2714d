package detector

import (
	"slices"
	"strconv"
	"strings"

	"portwatch/pkg/features"
	"portwatch/pkg/sock"
	"portwatch/pkg/store"
	"portwatch/pkg/traffic"
)

// explain names the top cells of w's last round as ports: protocol and state
// from the channel (and the sockets), address and process from the sockets
// that set the port, taken from the round itself for a "new" port and from
// the latest earlier round of the window that had it for a "vanished" one.
func explain(l features.Layout, w features.Window, cells []Cell) []Port {
	names := l.Channels()
	out := make([]Port, 0, len(cells))
	for _, c := range cells {
		p := Port{
			Port:     c.Port,
			Error:    c.Error,
			Channel:  names[c.Channel],
			Observed: c.Observed,
			Expected: c.Expected,
			Change:   "new",
		}
		p.Protocol, p.State = channelSocket(p.Channel)
		if p.Channel == features.PeersIn {
			p.Protocol = peersProtocol(w, c.Observed >= c.Expected, uint16(c.Port))
		}
		var socks []sock.Socket
		if c.Observed >= c.Expected {
			socks = l.Explain(w.Last(), c.Channel, uint16(c.Port))
		} else {
			p.Change = "vanished"
			for i := len(w.Rounds) - 2; i >= 0 && len(socks) == 0; i-- {
				socks = l.Explain(w.Rounds[i], c.Channel, uint16(c.Port))
			}
		}
		if len(socks) > 0 {
			p.State = socks[0].State.String()
		}
		p.name(socks)
		out = append(out, p)
	}
	return out
}

// explainHour names the listener of cell hc in r, present at an hour when
// it rarely is; Expected is how often it listens at that hour.
func explainHour(l features.Layout, r *store.Round, hc *hourCell, surprise float64) *Port {
	return explainListener(l, r, hc.Channel, hc.Port, "unusual hour", hc.Rate, surprise)
}

// explainStart names the listener of cell pc in r, starting at a minute of
// the hour it seldom starts at; Expected is the start's lift there.
func explainStart(l features.Layout, r *store.Round, pc *phaseCell, surprise float64) *Port {
	return explainListener(l, r, pc.Channel, pc.Port, "unusual minute", pc.Lift, surprise)
}

// explainListener names a listening cell of r judged by the calendar.
func explainListener(l features.Layout, r *store.Round, c int, port uint16, change string, expected, surprise float64) *Port {
	p := &Port{
		Port:     int(port),
		Error:    surprise,
		Channel:  l.Channels()[c],
		Change:   change,
		Observed: 1,
		Expected: float32(expected),
	}
	p.Protocol, p.State = channelSocket(p.Channel)
	p.name(l.Explain(r, c, port))
	return p
}

// name sets p's address, process, family, namespace and container from the
// sockets behind it.
func (p *Port) name(socks []sock.Socket) {
	p.Address = joinDistinct(socks, func(s sock.Socket) string { return s.Address.String() })
	p.Process = joinDistinct(socks, func(s sock.Socket) string { return s.Process })
	p.Family = joinDistinct(socks, func(s sock.Socket) string { return strconv.Itoa(s.Family) })
	p.Netns = joinDistinct(socks, netnsName)
	if slices.ContainsFunc(socks, func(s sock.Socket) bool { return s.Netns.Foreign() }) {
		p.Container = joinDistinct(socks, container)
	}
}

// container names a socket's network namespace: its Netns.Name, net:[inode]
// when it has none, or "host" for the host's own.
func container(s sock.Socket) string {
	switch {
	case !s.Netns.Foreign():
		return "host"
	case s.Netns.Name != "":
		return s.Netns.Name
	}
	return s.Netns.String()
}

// netnsName names a socket's network namespace for a reader: "host", its
// name, or net:[inode]; "" when the scanner did not tell.
func netnsName(s sock.Socket) string {
	switch n := s.Netns; {
	case n.Host:
		return "host"
	case n.Name != "":
		return n.Name
	case n.Inode != 0:
		return n.String()
	}
	return ""
}

// channelSocket is the protocol and (default) state a channel stands for:
// a socket's for the occupancy channels, what was counted for the traffic
// ones. peers_in counts a port's tcp and udp peers alike, so its protocol
// is the round's (see peersProtocol); "tcp,udp" stands for either.
func channelSocket(channel string) (protocol, state string) {
	switch channel {
	case features.UDPBound:
		return "udp", "unconn"
	case features.TCPConn:
		return "tcp", "established"
	case features.SYNIn:
		return "tcp", "syn"
	case features.TCPIn:
		return "tcp", "in"
	case features.UDPIn:
		return "udp", "in"
	case features.PeersIn:
		return "tcp,udp", "peers"
	}
	return "tcp", "listen"
}

// peersProtocol is the protocol of port's peers_in cell in w: of the
// inbound traffic with the most peers on it (what the cell counts) in the
// last round for a new cell, in the latest earlier round that had any for
// a vanished one; channelSocket's "tcp,udp" when none has.
func peersProtocol(w features.Window, isNew bool, port uint16) string {
	rounds := w.Rounds[len(w.Rounds)-1:]
	if !isNew {
		rounds = w.Rounds[:len(w.Rounds)-1]
	}
	for i := len(rounds) - 1; i >= 0; i-- {
		if s := rounds[i].Traffic; s != nil {
			var best *traffic.PortStat
			for j := range s.Ports {
				if ps := &s.Ports[j]; ps.Port == port && ps.Direction == traffic.In && (best == nil || ps.Peers > best.Peers) {
					best = ps
				}
			}
			if best != nil {
				return best.Protocol
			}
		}
	}
	p, _ := channelSocket(features.PeersIn)
	return p
}

// joinDistinct joins the distinct non-empty values of f over socks.
func joinDistinct(socks []sock.Socket, f func(sock.Socket) string) string {
	var vals []string
	for _, s := range socks {
		if v := f(s); v != "" && !slices.Contains(vals, v) {
			vals = append(vals, v)
		}
	}
	return strings.Join(vals, ",")
}
