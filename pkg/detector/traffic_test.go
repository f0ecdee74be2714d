package detector

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"portwatch/pkg/features"
	"portwatch/pkg/store"
	"portwatch/pkg/traffic"
)

// benignTraffic is a minute of ordinary traffic to a server: a few clients
// on 22 and 443, a resolver's answers, a web server's replies to the
// host's own ephemeral ports.
func benignTraffic(r *rand.Rand) *traffic.Summary {
	clients := int64(1 + r.IntN(6))
	return &traffic.Summary{
		Packets: 200 + r.Int64N(300), IPPackets: 200, Sources: clients + 2, SYNSources: clients + 1 + r.Int64N(4),
		Reflect: traffic.ReflectStat{Port: 53, Sources: r.Int64N(3), Packets: r.Int64N(6)},
		Spread:  traffic.SpreadStat{Source: "10.0.0.2", Port: 443, Hosts: r.Int64N(3)},
		Ports: []traffic.PortStat{
			{Port: 22, Protocol: "tcp", Direction: traffic.In, Packets: 40, SYNs: 1 + r.Int64N(3), Peers: 1},
			{Port: 443, Protocol: "tcp", Direction: traffic.In, Packets: 100, SYNs: clients, Peers: clients},
		},
		Top: []traffic.SourceStat{
			{Address: "198.51.100.7", LocalPorts: 5 + r.Int64N(15), LocalHosts: 1, Packets: 60},
			{Address: "203.0.113.9", LocalPorts: 2, LocalHosts: 1, ProbedPorts: 1 + r.Int64N(2), ProbedHosts: 1, Packets: 8, SYNs: 2,
				Attempts: 1 + r.Int64N(4), AttemptHost: "10.0.0.2", AttemptPort: 443},
		},
		DNS: traffic.DNSStats{Queries: 10, Responses: 10, Names: 8, MaxLabel: 8 + r.IntN(12), NXDepth: r.IntN(3),
			NXName: "print.corp.example.com"},
		Domains: []traffic.DomainStat{{Domain: "example.com", Queries: 10, Names: 1 + r.Int64N(5), MaxLabel: 12}},
	}
}

// A model of traffic alone, trained on ordinary minutes, flags a port
// scan, a SYN flood and a DNS tunnel and tells each the way a person acts
// on it; ordinary minutes from sources it never saw, and a round without
// a capture, stay normal.
func TestTrafficStatistics(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	r := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	var rounds []store.Round
	add := func(s *traffic.Summary) {
		rounds = append(rounds, store.Round{ID: int64(len(rounds) + 1), Start: t0.Add(time.Duration(len(rounds)) * time.Minute), Traffic: s})
	}
	for range 300 {
		add(benignTraffic(r))
	}
	scan := benignTraffic(r)
	scan.Top = append(scan.Top, traffic.SourceStat{Address: "192.168.1.10", LocalPorts: 1000, LocalHosts: 1, ProbedPorts: 1000, ProbedHosts: 1, SYNs: 1000})
	flood := benignTraffic(r)
	flood.Sources += 4900
	flood.Ports[1] = traffic.PortStat{Port: 443, Protocol: "tcp", Direction: traffic.In, Packets: 4900, SYNs: 4900, Peers: 4900}
	tunnel := benignTraffic(r)
	tunnel.DNS.MaxLabel, tunnel.DNS.Queries = 60, 410
	tunnel.Domains = append(tunnel.Domains, traffic.DomainStat{Domain: "pirate.sea", Queries: 400, Names: 400, MaxLabel: 60})
	brute := benignTraffic(r)
	brute.Top = append(brute.Top, traffic.SourceStat{Address: "203.0.113.50", LocalPorts: 1, LocalHosts: 1, SYNs: 67, Attempts: 67,
		AttemptHost: "10.0.0.2", AttemptPort: 22})
	poller := benignTraffic(r) // a neighbour polling a local API: many connections, but from the local side
	poller.Top = append(poller.Top, traffic.SourceStat{Address: "10.0.0.9", LocalPorts: 1, LocalHosts: 1, SYNs: 93, Attempts: 93,
		AttemptHost: "10.0.0.2", AttemptPort: 8765, Local: true})
	spoofed := benignTraffic(r)
	spoofed.SYNSources = 100
	reflection := benignTraffic(r)
	reflection.Reflect = traffic.ReflectStat{Port: 53, Sources: 49, Packets: 523}
	worm := benignTraffic(r)
	worm.Spread = traffic.SpreadStat{Source: "10.0.0.5", Port: 445, Hosts: 300}
	exfil := benignTraffic(r)
	exfil.DNS.NXDepth, exfil.DNS.NXName = 5, "gmr02c.16.0.fhkfhsdkfhsk.tunnel.example.com"
	searched := benignTraffic(r) // a search suffix appended to an ordinary name
	searched.DNS.NXDepth, searched.DNS.NXName = 3, "www.wireshark.org.gateway.2wire.net"
	shell := benignTraffic(r)
	shell.Backdoor = traffic.BackdoorStat{Host: "10.234.2.116", Port: 4444, Peers: 1}
	stranger := benignTraffic(r)
	stranger.Top[0].Address, stranger.Top[1].Address = "192.0.2.200", "192.0.2.201"
	// Background training never had: NTP from 35 addresses, a peer-to-peer
	// client's port. The model rules these ports out; they are new, not
	// anomalous.
	newPorts := benignTraffic(r)
	newPorts.Ports = append(newPorts.Ports,
		traffic.PortStat{Port: 123, Protocol: "udp", Direction: traffic.In, Packets: 35, Peers: 35},
		traffic.PortStat{Port: 30303, Protocol: "tcp", Direction: traffic.In, Packets: 60, SYNs: 4, Peers: 4})
	test := []struct {
		name string
		s    *traffic.Summary
		want string // the first finding's text; "" for a normal round
	}{
		{"ordinary", benignTraffic(r), ""},
		{"scan", scan, "port scan from 192.168.1.10: probes to 1000 ports of 1 host"},
		{"ordinary", benignTraffic(r), ""},
		{"flood", flood, "SYN flood on 443/tcp: 4900 SYNs from 4900 sources"},
		{"no capture", nil, ""},
		{"tunnel", tunnel, "DNS tunnel? 400 queries of 400 names under pirate.sea, labels up to 60 characters"},
		{"brute force", brute, "SSH brute force? 67 connection attempts to 22/tcp of 10.0.0.2 from 203.0.113.50"},
		{"a local poller", poller, ""},
		{"spoofed SYN flood", spoofed, "SYN flood? 100 addresses sent SYNs in one round (spoofed sources?)"},
		{"reflection", reflection, "reflection flood? 523 packets from 53/udp of 49 sources this host never asked"},
		{"worm", worm, "worm or bot? 10.0.0.5 probed 300 remote hosts on 445/tcp, none answered"},
		{"exfiltration", exfil, "DNS exfiltration? NXDOMAIN for gmr02c.16.0.fhkfhsdkfhsk.tunnel.example.com, 5 labels below example.com"},
		{"a search suffix", searched, ""},
		{"remote shell", shell, "remote shell? 4444/tcp of 10.234.2.116 in sessions with 1 peer (a backdoor's port)"},
		{"sources never seen", stranger, ""},
		{"ports never seen", newPorts, ""},
		{"scan after them", scan, "port scan from 192.168.1.10: probes to 1000 ports of 1 host"},
	}
	split := len(rounds)
	for _, tt := range test {
		add(tt.s)
	}
	cfg := DefaultConfig("")
	cfg.Channels, cfg.Epochs, cfg.EpochSize, cfg.Refit = features.TrafficChannels(), 1, 64, false
	q := NewReplay(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := q.Train(rounds[:split]); err != nil {
		t.Fatal(err)
	}
	if q.m.cal.Traffic == nil || q.m.cal.Traffic["probed_ports"] == nil {
		t.Fatalf("traffic limits %v, want one per statistic", q.m.cal.Traffic)
	}
	got, err := q.Score(rounds[split:])
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range test {
		g := got[i]
		var first string
		if len(g.Traffic) > 0 {
			first = g.Traffic[0].Text
		}
		if g.Anomalous != (tt.want != "") || first != tt.want {
			t.Errorf("%s round: anomalous %v (score %.2f), first finding %q; want anomalous %v, %q",
				tt.name, g.Anomalous, g.Score, first, tt.want != "", tt.want)
		}
	}
	if text := causesText(got[1]); !strings.HasPrefix(text, "port scan from 192.168.1.10") {
		t.Errorf("table causes %q, want the scan first", text)
	}
	for _, g := range got {
		if i := slices.IndexFunc(g.Ports, func(p Port) bool { return p.Over }); i >= 0 {
			t.Errorf("round %d: port %+v marked a cause, want none (the model of traffic alone is judged on its traffic)", g.RoundID, g.Ports[i])
		}
	}
}

// Each traffic statistic's limit is past the largest normal figure by its
// margin and never below its floor, and a figure past it is found.
func TestTrafficLimits(t *testing.T) {
	for _, st := range trafficStats() {
		t.Run(st.name, func(t *testing.T) {
			var sts []stats
			vals := make([]float64, len(trafficStats()))
			for i := range 100 {
				v := make([]float64, len(vals))
				v[statIndex(st.name)] = float64(i % 7)
				sts = append(sts, stats{Traffic: v})
			}
			lim, err := calibrateTraffic(sts, 1e-4)
			if err != nil {
				t.Fatal(err)
			}
			want := max(st.floor, (1+trafficMargin)*6)
			if got := trafficLimit(st, lim[st.name]); got != want {
				t.Errorf("limit %g, want %g", got, want)
			}
			vals[statIndex(st.name)] = want * 1.01
			if r := trafficRatio(lim, vals); r <= 1 {
				t.Errorf("ratio of a figure past the limit: %g, want > 1", r)
			}
			if r := trafficRatio(lim, nil); r != 0 {
				t.Errorf("ratio of a round without a summary: %g, want 0", r)
			}
		})
	}
}

func statIndex(name string) int {
	return slices.IndexFunc(trafficStats(), func(st trafficStat) bool { return st.name == name })
}

// A round of a model of traffic alone is judged on its traffic statistics
// only: a cell past the peak limit (a port with peers training never had)
// neither flags it nor is marked a cause, while a traffic figure past its
// limit flags it and is what it is told by. An occupancy model's rounds
// are judged on the peak as before, which a listener sets.
func TestJudgeTrafficOnly(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var normal []stats
	for range 200 {
		normal = append(normal, stats{Total: 10 + r.Float64(), Excess: 1 + r.Float64(), Peak: 3 + r.Float64(), Traffic: trafficValues(benignTraffic(r))})
	}
	cal, err := calibrate(normal, 1e-4)
	if err != nil {
		t.Fatal(err)
	}
	ntp := benignTraffic(r) // NTP from 35 addresses, never in training
	ntp.Ports = append(ntp.Ports, traffic.PortStat{Port: 123, Protocol: "udp", Direction: traffic.In, Packets: 35, Peers: 35})
	scan := benignTraffic(r)
	scan.Top = append(scan.Top, traffic.SourceStat{Address: "192.168.1.10", LocalPorts: 1000, LocalHosts: 1, ProbedPorts: 1000, ProbedHosts: 1, SYNs: 1000})
	newPeers := Port{Port: 123, Protocol: "udp", State: "peers", Channel: features.PeersIn, Change: "new"}
	newListener := Port{Port: 123, Protocol: "tcp", State: "listen", Channel: features.TCPListen, Change: "new"}
	newClient := Port{Port: 50325, Protocol: "udp", State: "established", Channel: features.UDPBound, Change: "new"}
	tests := []struct {
		name        string
		trafficOnly bool
		s           *traffic.Summary
		port        Port
		peak        float64
		anomalous   bool
		over        bool   // the port marked a cause
		finding     string // the first finding's Stat
	}{
		{"traffic model, a new port's peers", true, ntp, newPeers, 13, false, false, ""},
		{"traffic model, a scan", true, scan, newPeers, 13, true, false, "probed_ports"},
		{"traffic model, an ordinary round", true, benignTraffic(r), newPeers, 3, false, false, ""},
		{"occupancy model, a new listener", false, ntp, newListener, 13, true, true, ""},
		// A client port is no cause alone, however unlikely (the peak is
		// the listener's): a fresh DNS port beside a new service.
		{"occupancy model, a client port", false, ntp, newClient, 13, true, false, ""},
		{"occupancy model, a scan", false, scan, newPeers, 3, true, false, "probed_ports"},
		{"occupancy model, no capture", false, nil, newPeers, 3, false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := stats{Total: 10.5, Excess: 1.5, Peak: tt.peak, Traffic: trafficValues(tt.s)}
			p := tt.port
			p.Error = tt.peak
			rs := []Scored{{stats: st, Ports: []Port{p}, round: &store.Round{Traffic: tt.s}, trafficOnly: tt.trafficOnly}}
			judge(rs, cal)
			g := rs[0]
			var first string
			if len(g.Traffic) > 0 {
				first = g.Traffic[0].Stat
			}
			if g.Anomalous != tt.anomalous || g.Ports[0].Over != tt.over || first != tt.finding {
				t.Errorf("anomalous %v (score %.2f), port over %v, first finding %q; want %v, %v, %q",
					g.Anomalous, g.Score, g.Ports[0].Over, first, tt.anomalous, tt.over, tt.finding)
			}
			if tt.trafficOnly && g.Score != trafficRatio(cal.Traffic, st.Traffic) {
				t.Errorf("score %g, want the traffic statistics' %g", g.Score, trafficRatio(cal.Traffic, st.Traffic))
			}
		})
	}
}
