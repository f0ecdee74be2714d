package detector

import (
	"fmt"
	"slices"
	"strings"

	"portwatch/pkg/sock"
	"portwatch/pkg/store"
	"portwatch/pkg/threshold"
	"portwatch/pkg/traffic"
)

// The traffic statistics judge a round by its traffic summary (collect -p,
// collect --pcap): figures a normal round keeps small and scans, floods,
// DNS tunnels and bots drive up, each the largest over the round's sources,
// ports or domains. The longest query label is not one: ordinary names
// (DKIM keys, CDN hashes) reach 60 characters, so it flagged ordinary
// minutes of the capture timelines; many long names under one domain is
// what a tunnel shows (dns_names). They are calibrated beside Total, Excess, Peak and Hour
// (modelfile.Calibration.Traffic, keyed by name) on the training rounds
// that have a summary, and a round without one is never judged on them: a
// round with no capture is not anomalous for having no packets.
//
// Counts, not identities: a source never seen in training is not flagged
// for being new, only for doing what no training source did.
type trafficStat struct {
	name string
	// The limit is max(floor, (1+trafficMargin) × the largest normal value seen):
	// past the busiest normal round by half (the margin of netspot's ratio
	// rule), and never so low that two retried SYNs are a scan. The floors
	// are of what ordinary traffic reaches from a source the training never
	// saw: a peer-to-peer or VoIP client has dozens of peers on one port a
	// minute, a CDN or an ad network dozens of names under one domain;
	// floods and tunnels have hundreds.
	floor float64
	// value returns the round's figure and what to tell when it is past
	// its limit.
	value func(s *traffic.Summary) (float64, func() Finding)
}

// trafficMargin is how far past the largest normal figure a limit lies.
const trafficMargin = 0.5

// bySource is the statistic of the source with the largest f, told as
// kind by tell (its Text, and Port where one port is concerned).
func bySource(name string, floor float64, kind string, f func(traffic.SourceStat) int64, tell func(traffic.SourceStat) Finding) trafficStat {
	return trafficStat{name, floor, func(s *traffic.Summary) (float64, func() Finding) {
		src := widest(s.Top, f)
		return float64(f(src)), func() Finding {
			fd := tell(src)
			fd.Kind, fd.Source = kind, src.Address
			return fd
		}
	}}
}

// trafficStats are the statistics, in the order findings are listed.
func trafficStats() []trafficStat {
	return []trafficStat{
		bySource("probed_ports", 6, "port_scan", func(x traffic.SourceStat) int64 { return x.ProbedPorts },
			func(x traffic.SourceStat) Finding {
				return Finding{Text: fmt.Sprintf("port scan from %s: probes to %d ports of %s", x.Address, x.ProbedPorts, hosts(x.ProbedHosts))}
			}),
		bySource("probed_hosts", 6, "host_sweep", func(x traffic.SourceStat) int64 { return x.ProbedHosts },
			func(x traffic.SourceStat) Finding {
				return Finding{Text: fmt.Sprintf("host sweep from %s: probes to %d local hosts", x.Address, x.ProbedHosts)}
			}),
		// A busy server answers a client's hundred connections a minute,
		// each to a fresh ephemeral port: fan-out too, of replies.
		bySource("fanout_ports", 200, "port_scan", func(x traffic.SourceStat) int64 { return x.LocalPorts },
			func(x traffic.SourceStat) Finding {
				return Finding{Text: fmt.Sprintf("port scan from %s: packets to %d ports of %s", x.Address, x.LocalPorts, hosts(x.LocalHosts))}
			}),
		// A local resolver or gateway answers a dozen or two neighbours.
		bySource("fanout_hosts", 20, "host_sweep", func(x traffic.SourceStat) int64 { return x.LocalHosts },
			func(x traffic.SourceStat) Finding {
				return Finding{Text: fmt.Sprintf("host sweep from %s: packets to %d local hosts", x.Address, x.LocalHosts)}
			}),
		// Remote sources only: a local host polling a neighbour's API opens
		// a fresh connection every second or so all day, while from outside
		// dozens of connections a minute to one port are guessed passwords.
		bySource("attempts", 30, "brute_force", func(x traffic.SourceStat) int64 {
			if x.Local {
				return 0
			}
			return x.Attempts
		}, func(x traffic.SourceStat) Finding {
			return Finding{Port: int(x.AttemptPort), Protocol: "tcp", Text: fmt.Sprintf("%sbrute force? %d connection attempts to %d/tcp of %s from %s",
				service(x.AttemptPort), x.Attempts, x.AttemptPort, x.AttemptHost, x.Address)}
		}),
		// One source's SYNs are its attempts (above), a neighbour polling
		// an API among them; a flood comes from many.
		{"syn_port", 30, func(s *traffic.Summary) (float64, func() Finding) {
			p := busiest(s.Ports, func(x traffic.PortStat) int64 {
				if x.Peers < 2 {
					return 0
				}
				return x.SYNs
			})
			return float64(p.SYNs), func() Finding {
				return Finding{Kind: "syn_flood", Port: int(p.Port), Protocol: p.Protocol, Text: fmt.Sprintf("SYN flood on %d/%s: %d SYNs from %s",
					p.Port, p.Protocol, p.SYNs, sources(p.Peers))}
			}
		}},
		{"port_peers", 100, func(s *traffic.Summary) (float64, func() Finding) {
			p := busiest(s.Ports, func(x traffic.PortStat) int64 { return x.Peers })
			return float64(p.Peers), func() Finding {
				return Finding{Kind: "flood", Port: int(p.Port), Protocol: p.Protocol, Text: fmt.Sprintf("flood on %d/%s from %s: %d packets",
					p.Port, p.Protocol, sources(p.Peers), p.Packets)}
			}
		}},
		// A server's busiest minutes hear from a few hundred addresses.
		{"sources", 500, func(s *traffic.Summary) (float64, func() Finding) {
			return float64(s.Sources), func() Finding {
				return Finding{Kind: "flood", Text: fmt.Sprintf("flood: %s sent to this host in one round (%d packets)",
					sources(s.Sources), s.IPPackets)}
			}
		}},
		{"syn_sources", 50, func(s *traffic.Summary) (float64, func() Finding) {
			return float64(s.SYNSources), func() Finding {
				return Finding{Kind: "syn_flood", Text: fmt.Sprintf("SYN flood? %d addresses sent SYNs in one round (spoofed sources?)",
					s.SYNSources)}
			}
		}},
		{"reflect_sources", 20, func(s *traffic.Summary) (float64, func() Finding) {
			r := s.Reflect
			return float64(r.Sources), func() Finding {
				return Finding{Kind: "reflection", Text: fmt.Sprintf("reflection flood? %d packets from %d/udp of %s this host never asked",
					r.Packets, r.Port, sources(r.Sources))}
			}
		}},
		{"spread_hosts", 20, func(s *traffic.Summary) (float64, func() Finding) {
			sp := s.Spread
			return float64(sp.Hosts), func() Finding {
				return Finding{Kind: "outbound_scan", Source: sp.Source, Text: fmt.Sprintf("worm or bot? %s probed %d remote hosts on %d/tcp, none answered",
					sp.Source, sp.Hosts, sp.Port)}
			}
		}},
		// Ordinary NXDOMAIN names sit a label or three below their domain
		// (a host under a corporate or ISP domain, a search suffix
		// appended); data sent as labels to a domain that answers nothing
		// goes deeper, even in one query.
		{"dns_nx_depth", 4, func(s *traffic.Summary) (float64, func() Finding) {
			d := s.DNS
			return float64(d.NXDepth), func() Finding {
				dom := traffic.Registered(d.NXName)
				return Finding{Kind: "dns_tunnel", Domain: dom, Text: fmt.Sprintf("DNS exfiltration? NXDOMAIN for %s, %d labels below %s",
					d.NXName, d.NXDepth, dom)}
			}
		}},
		// One session is past it: nothing ordinary listens on these ports.
		{"backdoor_peers", 0.5, func(s *traffic.Summary) (float64, func() Finding) {
			b := s.Backdoor
			return float64(b.Peers), func() Finding {
				return Finding{Kind: "backdoor", Port: int(b.Port), Protocol: "tcp", Text: fmt.Sprintf("remote shell? %d/tcp of %s in sessions with %s (a backdoor's port)",
					b.Port, b.Host, peers(b.Peers))}
			}
		}},
		// A minute of ordinary traffic gets up to 40 (a traceroute, a UDP
		// client retrying a closed port, as held-out captures of the
		// timelines show); reflection floods and UDP scans hundreds.
		{"unreachable", 100, func(s *traffic.Summary) (float64, func() Finding) {
			return float64(s.Unreach), func() Finding {
				return Finding{Kind: "unreachable", Text: fmt.Sprintf("%d ICMP destination-unreachable messages", s.Unreach)}
			}
		}},
		{"dns_names", 50, func(s *traffic.Summary) (float64, func() Finding) {
			var d traffic.DomainStat
			for _, x := range s.Domains {
				if x.Names > d.Names {
					d = x
				}
			}
			return float64(d.Names), func() Finding {
				return Finding{Kind: "dns_tunnel", Domain: d.Domain, Text: fmt.Sprintf("DNS tunnel? %d queries of %d names under %s, labels up to %d characters",
					d.Queries, d.Names, d.Domain, d.MaxLabel)}
			}
		}},
		{"dns_txt_null", 20, func(s *traffic.Summary) (float64, func() Finding) {
			n := s.DNS.TXTNullShare * float64(s.DNS.Queries)
			return n, func() Finding {
				return Finding{Kind: "dns_tunnel", Text: fmt.Sprintf("DNS tunnel? %.0f TXT/NULL queries of %d", n, s.DNS.Queries)}
			}
		}},
		{"dns_nxdomain", 20, func(s *traffic.Summary) (float64, func() Finding) {
			n := s.DNS.NXDomainShare * float64(s.DNS.Responses)
			return n, func() Finding {
				return Finding{Kind: "dns_nxdomain", Text: fmt.Sprintf("%.0f NXDOMAIN answers of %d (a bot's generated domains?)", n, s.DNS.Responses)}
			}
		}},
	}
}

// Finding is a traffic statistic past its limit, told the way a person
// acts on it.
type Finding struct {
	Stat  string  `json:"stat"`  // the statistic (trafficStats' names)
	Value float64 `json:"value"` // the round's figure
	Limit float64 `json:"limit"` // its calibrated limit
	// Kind is port_scan, host_sweep, brute_force, syn_flood, flood,
	// reflection, outbound_scan, backdoor, unreachable, dns_tunnel or
	// dns_nxdomain.
	Kind     string `json:"kind"`
	Text     string `json:"text"`
	Source   string `json:"source,omitempty"`   // the sending address, for scans and sweeps
	Port     int    `json:"port,omitempty"`     // the local port, for floods
	Protocol string `json:"protocol,omitempty"` // its protocol
	Domain   string `json:"domain,omitempty"`   // the registered domain, for DNS
	// Listener names the local listener and process on Port, where the
	// round's scan has one.
	Listener string `json:"listener,omitempty"`
	// Process names the program that opened most of a burst's connections.
	Process string `json:"process,omitempty"`
}

// listener names the sockets listening on (bound to, for UDP) port: the
// address and process, "0.0.0.0 nginx"; "" when there are none.
func listener(socks []sock.Socket, port int, protocol string) string {
	var names []string
	for _, so := range socks {
		if int(so.Port) != port || so.Protocol.String() != protocol || so.Protocol == sock.TCP && so.State != sock.Listen {
			continue
		}
		if n := strings.TrimSpace(so.Address.String() + " " + so.Process); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return strings.Join(names, ", ")
}

// widest returns the source with the largest f, the zero source when none.
func widest(srcs []traffic.SourceStat, f func(traffic.SourceStat) int64) traffic.SourceStat {
	var best traffic.SourceStat
	for _, s := range srcs {
		if f(s) > f(best) {
			best = s
		}
	}
	return best
}

// busiest returns the inbound port with the largest f.
func busiest(ports []traffic.PortStat, f func(traffic.PortStat) int64) traffic.PortStat {
	var best traffic.PortStat
	for _, p := range ports {
		if p.Direction == traffic.In && f(p) > f(best) {
			best = p
		}
	}
	return best
}

// service names the well-known login services a brute force is told by, "SSH ".
func service(port uint16) string {
	switch port {
	case 21:
		return "FTP "
	case 22:
		return "SSH "
	case 23:
		return "telnet "
	case 3389:
		return "RDP "
	case 5900:
		return "VNC "
	}
	return ""
}

func hosts(n int64) string {
	if n == 1 {
		return "1 host"
	}
	return fmt.Sprintf("%d hosts", n)
}

func peers(n int64) string {
	if n == 1 {
		return "1 peer"
	}
	return fmt.Sprintf("%d peers", n)
}

func sources(n int64) string {
	if n == 1 {
		return "1 source"
	}
	return fmt.Sprintf("%d sources", n)
}

// trafficValues returns a round's traffic figures in trafficStats' order,
// nil for a round without a summary.
func trafficValues(s *traffic.Summary) []float64 {
	if s == nil {
		return nil
	}
	st := trafficStats()
	out := make([]float64, len(st))
	for i, t := range st {
		out[i], _ = t.value(s)
	}
	return out
}

// calibrateTraffic fits a limit per traffic statistic to the figures of
// the normal rounds with a summary; nil when none has one.
func calibrateTraffic(sts []stats, q float64) (map[string]*threshold.SPOT, error) {
	cols := trafficColumns(sts)
	if cols == nil {
		return nil, nil
	}
	out := make(map[string]*threshold.SPOT, len(cols))
	for i, t := range trafficStats() {
		sp, err := threshold.CalibrateBounded(cols[i], q)
		if err != nil {
			return nil, fmt.Errorf("calibrate %s: %w", t.name, err)
		}
		out[t.name] = sp
	}
	return out, nil
}

// updateTraffic adds normal rounds' figures to the limits; statistics the
// model was calibrated without (a model from before them, or trained on
// rounds with no capture) are fitted from these figures.
func updateTraffic(lim map[string]*threshold.SPOT, sts []stats, q float64) (map[string]*threshold.SPOT, error) {
	cols := trafficColumns(sts)
	if cols == nil {
		return lim, nil
	}
	if lim == nil {
		lim = make(map[string]*threshold.SPOT, len(cols))
	}
	for i, t := range trafficStats() {
		sp := lim[t.name]
		if sp == nil {
			fresh, err := threshold.CalibrateBounded(cols[i], q)
			if err != nil {
				return nil, fmt.Errorf("calibrate %s: %w", t.name, err)
			}
			lim[t.name] = fresh
			continue
		}
		if err := sp.Update(cols[i]); err != nil {
			return nil, fmt.Errorf("update %s: %w", t.name, err)
		}
	}
	return lim, nil
}

// trafficColumns returns the figures of the rounds with a summary, one
// slice per statistic; nil when no round has one.
func trafficColumns(sts []stats) [][]float64 {
	var cols [][]float64
	for _, s := range sts {
		if s.Traffic == nil {
			continue
		}
		if cols == nil {
			cols = make([][]float64, len(s.Traffic))
		}
		for i, v := range s.Traffic {
			cols[i] = append(cols[i], v)
		}
	}
	return cols
}

// trafficLimit is statistic t's limit under sp.
func trafficLimit(t trafficStat, sp *threshold.SPOT) float64 {
	return max(t.floor, sp.Threshold, (1+trafficMargin)*sp.Max)
}

// trafficRatio is the largest traffic figure over its limit, 0 for a round
// without a summary or a calibration without traffic limits.
func trafficRatio(lim map[string]*threshold.SPOT, values []float64) float64 {
	var r float64
	for i, t := range trafficStats() {
		if sp := lim[t.name]; sp != nil && i < len(values) {
			r = max(r, ratio(values[i], trafficLimit(t, sp)))
		}
	}
	return r
}

// findings tells the traffic statistics of r past their limits, the
// furthest first, one finding per kind and source, port or domain, with
// the local listener on a flooded port where r's scan has one.
func findings(lim map[string]*threshold.SPOT, r *store.Round) []Finding {
	s := r.Traffic
	if s == nil || lim == nil {
		return nil
	}
	type scored struct {
		Finding
		r float64
	}
	var out []scored
	for _, t := range trafficStats() {
		sp := lim[t.name]
		if sp == nil {
			continue
		}
		v, tell := t.value(s)
		limit := trafficLimit(t, sp)
		if v <= limit {
			continue
		}
		f := tell()
		f.Stat, f.Value, f.Limit = t.name, v, limit
		if f.Port != 0 {
			f.Listener = listener(r.Sockets, f.Port, f.Protocol)
		}
		if slices.ContainsFunc(out, func(o scored) bool {
			return o.Kind == f.Kind && o.Source == f.Source && o.Port == f.Port && o.Domain == f.Domain
		}) {
			continue
		}
		out = append(out, scored{f, v / limit})
	}
	slices.SortStableFunc(out, func(a, b scored) int {
		switch {
		case a.r > b.r:
			return -1
		case a.r < b.r:
			return 1
		}
		return 0
	})
	fs := make([]Finding, len(out))
	for i, o := range out {
		fs[i] = o.Finding
	}
	return fs
}
