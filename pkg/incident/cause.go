// Package incident groups detect's anomalous rounds into incidents: one per
// cause, where a cause is what changed (its kind: a new listener, a listener
// gone, a rebind to the wildcard address, port exhaustion, a listener at an
// unusual hour or starting at an unusual minute, a burst of connections,
// ...) and on what (its key: protocol, family, address, port, process name
// and network namespace, never a pid, so a restarted service is the same
// listener).
//
//	tr := incident.NewTracker(incident.Recent(stored, now), rules, closeAfter, now)
//	for _, s := range verdicts { tr.Observe(s) }            // in round order
//	events, err := tr.Save(ctx, db)                         // opened, updated (kind), closed
//
// A round whose causes the owner accepted (Rule, detect accept, --allow)
// opens nothing, and the Acceptor tells the detector to refit on it.
package incident

import (
	"cmp"
	"fmt"
	"slices"

	"portwatch/pkg/detector"
	"portwatch/pkg/features"
)

// Kinds of incident, in the order a key's cells in one round pick its kind
// (the first wins: an unusual hour says more than "new" of a listener the
// host runs every day).
const (
	Exhaustion  = "port_exhaustion"
	UnusualHour = "unusual_hour"
	// UnusualMinute: a listener starting at a minute of the hour it does
	// not start at (a batch job's admin port off its schedule).
	UnusualMinute = "unusual_minute"
	NewListener   = "new_listener"
	Rebound       = "rebound_wildcard"
	Gone          = "listener_gone"
	InboundSYN    = "inbound_syn"
	Other         = "other"
)

// Traffic kinds are detector.Finding's (port_scan, syn_flood, dns_tunnel,
// ...); they rank after the listener kinds.
var kindOrder = []string{Exhaustion, UnusualHour, UnusualMinute, NewListener, Rebound, Gone, InboundSYN,
	"burst", "port_scan", "host_sweep", "brute_force", "syn_flood", "flood", "reflection", "outbound_scan", "backdoor", "dns_tunnel", "dns_nxdomain", "unreachable", Other}

// Key is a cause's stable identity. Empty fields are unknown; Port 0 with
// protocol tcp is the host's connections as a whole (port exhaustion).
type Key struct {
	Protocol string `json:"protocol"`
	Family   string `json:"family,omitempty"`
	Address  string `json:"address,omitempty"`
	Port     int    `json:"port"`
	Process  string `json:"process,omitempty"`
	Netns    string `json:"netns,omitempty"`
	// Traffic findings key on what a person blocks or looks up: the
	// sending address of a scan, the registered domain of a DNS tunnel.
	Peer   string `json:"peer,omitempty"`
	Domain string `json:"domain,omitempty"`
}

// String is the key as stored in incidents.key: "tcp/4 0.0.0.0 port 4444 process=nc netns=host".
func (k Key) String() string {
	s := k.Protocol
	if k.Family != "" {
		s += "/" + k.Family
	}
	if k.Address != "" {
		s += " " + k.Address
	}
	switch {
	case k.Peer != "" || k.Domain != "" || k.Protocol == "ip":
	case k.Port == 0:
		s += " connections"
	default:
		s += fmt.Sprintf(" port %d", k.Port)
	}
	if k.Process != "" {
		s += " process=" + k.Process
	}
	if k.Netns != "" {
		s += " netns=" + k.Netns
	}
	if k.Peer != "" {
		s += " from " + k.Peer
	}
	if k.Domain != "" {
		s += " domain " + k.Domain
	}
	return s
}

// Cause is one reason a round is anomalous.
type Cause struct {
	Key     Key
	Kind    string
	Ports   []detector.Port    // the cells behind it
	Traffic []detector.Finding // or the traffic finding
}

// Causes returns the causes of an anomalous round s, ordered by key; none
// for a normal one. Each traffic finding is a cause, keyed on its source,
// port or domain. The cells past their own limit are causes; the
// connection cells together are port exhaustion when the total statistic
// fired. A round past the threshold on none (many small changes) has its
// largest listener cell as its cause, or the connections as a whole.
func Causes(s detector.Scored) []Cause {
	if !s.Anomalous && !s.Accepted {
		return nil
	}
	byKey := map[Key]*Cause{}
	add := func(k Key, kind string, p detector.Port) {
		c := byKey[k]
		if c == nil {
			c = &Cause{Key: k, Kind: kind}
			byKey[k] = c
		}
		if kindRank(kind) < kindRank(c.Kind) {
			c.Kind = kind
		}
		c.Ports = append(c.Ports, p)
	}
	for _, f := range s.Traffic {
		k := Key{Protocol: "ip", Peer: f.Source, Domain: f.Domain}
		switch {
		case f.Port != 0:
			k.Protocol, k.Port = f.Protocol, f.Port
		case f.Source == "" && f.Domain == "" && f.Protocol != "":
			// A burst: the host's connections, by the program opening them.
			k.Protocol, k.Process = f.Protocol, f.Process
		}
		c := byKey[k]
		if c == nil {
			c = &Cause{Key: k, Kind: f.Kind}
			byKey[k] = c
		}
		c.Traffic = append(c.Traffic, f)
	}
	for _, p := range s.Ports {
		if p.Channel == features.TCPConn {
			if s.TotalFired && p.Change == "new" {
				add(Key{Protocol: "tcp"}, Exhaustion, p)
			}
			continue // a vanished service's connections go with its listener
		}
		if p.Over {
			add(keyOf(p), kindOf(p), p)
		}
	}
	if len(byKey) == 0 && len(s.Ports) > 0 {
		i := slices.IndexFunc(s.Ports, func(p detector.Port) bool { return p.Channel != features.TCPConn })
		if i < 0 {
			add(Key{Protocol: "tcp"}, Other, s.Ports[0])
		} else {
			add(keyOf(s.Ports[i]), Other, s.Ports[i])
		}
	}
	// A wildcard or loopback cell beside a listener cell of the same port
	// is the same change seen twice: a new listener on 0.0.0.0 sets both.
	for k := range byKey {
		if k.Address != "" {
			continue
		}
		for o := range byKey {
			if o != k && o.Protocol == k.Protocol && o.Port == k.Port && o.Port != 0 {
				byKey[o].Ports = append(byKey[o].Ports, byKey[k].Ports...)
				delete(byKey, k)
				break
			}
		}
	}
	out := make([]Cause, 0, len(byKey))
	for _, c := range byKey {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Cause) int { return cmp.Compare(a.Key.String(), b.Key.String()) })
	return out
}

// keyOf is a cell's key. The wildcard and loopback channels say where a
// listener is bound, so their cells key on the listener without its
// address: a rebind from 127.0.0.1 to 0.0.0.0 stays one cause.
func keyOf(p detector.Port) Key {
	k := Key{Protocol: p.Protocol, Family: p.Family, Address: p.Address, Port: p.Port, Process: p.Process, Netns: p.Netns}
	if p.Channel == features.TCPListenWildcard || p.Channel == features.TCPListenLoopback {
		k.Address, k.Family = "", ""
	}
	return k
}

// kindOf is what a cell says happened.
func kindOf(p detector.Port) string {
	switch {
	case p.Change == "unusual hour":
		return UnusualHour
	case p.Change == "unusual minute":
		return UnusualMinute
	case p.Channel == features.SYNIn:
		return InboundSYN
	case p.Channel == features.TCPListenWildcard && p.Change == "new",
		p.Channel == features.TCPListenLoopback && p.Change == "vanished":
		return Rebound
	case p.Change == "vanished":
		return Gone
	}
	return NewListener
}
