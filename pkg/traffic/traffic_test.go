package traffic

import (
	"crypto/sha256"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"testing"

	"portwatch/pkg/packet"
)

const (
	syn    = 2
	rst    = 4
	ack    = 16
	noFlag = -1 // not TCP
)

func tcp(src, dst string, sport, dport uint16, flags int) packet.Packet {
	return packet.Packet{Protocols: "eth:ipv4:tcp", SrcIP: src, DstIP: dst, SrcPort: sport, DstPort: dport, TCPFlags: flags, ICMPType: -1}
}

func udp(src, dst string, sport, dport uint16) packet.Packet {
	p := tcp(src, dst, sport, dport, noFlag)
	p.Protocols = "eth:ipv4:udp"
	return p
}

func query(name string, qtype uint16) packet.Packet {
	p := udp("10.0.0.2", "10.0.0.1", 53000, 53)
	p.Protocols, p.QryName, p.DNSType = "eth:ipv4:udp:dns", name, qtype
	return p
}

func response(name string, rcode uint8) packet.Packet {
	p := udp("10.0.0.1", "10.0.0.2", 53, 53000)
	p.Protocols, p.QryName, p.DNSResponse, p.DNSRcode = "eth:ipv4:udp:dns", name, true, rcode
	return p
}

func flagLocal(cidrs ...string) Local {
	l := Local{From: FromFlag}
	for _, c := range cidrs {
		l.Prefixes = append(l.Prefixes, netip.MustParsePrefix(c))
	}
	return l
}

func summarize(local Local, pkts []packet.Packet) *Summary {
	a := New()
	for i := range pkts {
		a.Add(&pkts[i])
	}
	return a.Summarize(local)
}

func port(s *Summary, p uint16, proto, dir string) PortStat {
	for _, ps := range s.Ports {
		if ps.Port == p && ps.Protocol == proto && ps.Direction == dir {
			return ps
		}
	}
	return PortStat{}
}

func TestSummarize(t *testing.T) {
	var scan, flood, tunnel []packet.Packet
	for p := uint16(1); p <= 1000; p++ {
		scan = append(scan, tcp("192.168.1.10", "192.168.1.25", 40000, p, syn))
		reply := rst | ack
		if p == 22 {
			reply = syn | ack
		}
		scan = append(scan, tcp("192.168.1.25", "192.168.1.10", p, 40000, reply))
	}
	for i := range 4900 {
		flood = append(flood, tcp(fmt.Sprintf("203.0.%d.%d", i/250, i%250+1), "10.0.0.2", uint16(1024+i), 80, syn))
	}
	var replies, lateral []packet.Packet
	for p := uint16(50000); p < 50300; p++ { // a web server answering a busy client
		replies = append(replies, tcp("198.51.100.7", "10.0.0.2", 443, p, syn|ack), tcp("198.51.100.7", "10.0.0.2", 443, p, ack))
	}
	for h := range 20 { // a local host sweeping its neighbours' telnet, FIN then NULL probes
		dst := fmt.Sprintf("10.0.0.%d", 100+h)
		lateral = append(lateral, tcp("10.0.0.9", dst, 40000, 23, 1), tcp("10.0.0.9", dst, 40000, 23, 0))
	}
	var brute, spoofed, reflected, worm []packet.Packet
	for i := range 40 { // a local host's SYNs to 40 remote hosts on 445, two of which answer, and its answered web browsing
		dst := fmt.Sprintf("198.51.100.%d", i+1)
		worm = append(worm, tcp("10.0.0.5", dst, 40000, 445, syn), tcp("10.0.0.5", fmt.Sprintf("192.0.2.%d", i+1), 40001, 443, syn),
			tcp(fmt.Sprintf("192.0.2.%d", i+1), "10.0.0.5", 443, 40001, syn|ack))
		if i < 2 {
			worm = append(worm, tcp(dst, "10.0.0.5", 445, 40000, rst|ack))
		}
	}
	for i := range 60 { // a remote source's 60 connections to one local ssh, and one to its web server
		sport := uint16(40000 + i)
		brute = append(brute, tcp("203.0.113.5", "10.0.0.2", sport, 22, syn), tcp("10.0.0.2", "203.0.113.5", 22, sport, syn|ack),
			tcp("203.0.113.5", "10.0.0.2", sport, 22, ack|1))
	}
	brute = append(brute, tcp("203.0.113.5", "10.0.0.2", 41000, 80, syn))
	for i := range 100 { // SYNs between spoofed addresses, none of them local
		spoofed = append(spoofed, tcp(fmt.Sprintf("198.51.%d.%d", i/200, i%200+1), fmt.Sprintf("203.0.113.%d", i+1), 1024, uint16(i+1), syn))
	}
	for i := range 30 { // DNS answers from 30 resolvers to a local host that asked one of them
		src := fmt.Sprintf("192.0.2.%d", i+1)
		reflected = append(reflected, udp(src, "10.0.0.2", 53, 22), udp(src, "10.0.0.2", 53, 22))
	}
	reflected = append(reflected, udp("10.0.0.2", "192.0.2.1", 22, 53), udp("198.51.100.9", "10.0.0.2", 40000, 5000))
	// A shell on 4444 between neighbours caught mid-session, with two
	// clients, and a remote peer's session on a local 5554.
	shell := []packet.Packet{
		tcp("10.0.0.7", "10.0.0.8", 1793, 4444, ack), tcp("10.0.0.8", "10.0.0.7", 4444, 1793, ack|8),
		tcp("10.0.0.6", "10.0.0.8", 1800, 4444, ack), tcp("10.0.0.8", "10.0.0.6", 4444, 1800, ack|8),
		tcp("198.51.100.3", "10.0.0.5", 1900, 5554, ack|8), tcp("10.0.0.5", "198.51.100.3", 5554, 1900, ack),
	}
	// Not sessions on a backdoor port: a client that dialled from
	// ephemeral 4444 to a database, one on 4444 of a web server caught
	// mid-session, a scan that found 27374 open, a port that only resets.
	notShell := []packet.Packet{
		tcp("10.0.0.9", "10.0.0.1", 4444, 1433, syn), tcp("10.0.0.1", "10.0.0.9", 1433, 4444, syn|ack), tcp("10.0.0.9", "10.0.0.1", 4444, 1433, ack),
		tcp("10.0.0.1", "10.0.0.9", 1433, 4444, ack|8),
		tcp("10.0.0.2", "192.0.2.80", 4444, 443, ack|8), tcp("192.0.2.80", "10.0.0.2", 443, 4444, ack),
		tcp("10.0.0.3", "10.0.0.4", 40000, 27374, syn), tcp("10.0.0.4", "10.0.0.3", 27374, 40000, syn|ack), tcp("10.0.0.3", "10.0.0.4", 40000, 27374, rst),
		tcp("10.0.0.7", "10.0.0.10", 1793, 4444, ack), tcp("10.0.0.10", "10.0.0.7", 4444, 1793, rst),
	}
	for i := range 400 {
		name := fmt.Sprintf("%x", sha256.Sum256([]byte{byte(i), byte(i >> 8)}))[:60] + ".pirate.sea"
		tunnel = append(tunnel, query(name, 16), response(name, 3))
	}
	tests := []struct {
		name  string
		local Local
		pkts  []packet.Packet
		check func(t *testing.T, s *Summary)
	}{
		{"SYN scan: one source, 1000 local ports", Local{From: FromInferred}, scan, func(t *testing.T, s *Summary) {
			if got := s.Local.Prefixes; len(got) != 1 || got[0].Addr().String() != "192.168.1.25" {
				t.Errorf("inferred local %v, want the scanned host 192.168.1.25", got)
			}
			if len(s.Top) != 1 || s.Top[0].Address != "192.168.1.10" || s.Top[0].LocalPorts != 1000 || s.Top[0].LocalHosts != 1 ||
				s.Top[0].SYNs != 1000 || s.Top[0].ProbedPorts != 1000 || s.Top[0].ProbedHosts != 1 {
				t.Errorf("sources %+v, want 192.168.1.10 with 1000 local ports, all probed, 1 host, 1000 SYNs", s.Top)
			}
			if got := port(s, 22, "tcp", In); got.SYNs != 1 || got.Peers != 1 || got.Packets != 1 {
				t.Errorf("22/tcp in = %+v, want 1 SYN from 1 peer", got)
			}
			if got := port(s, 40000, "tcp", Out); got.RSTs != 999 || got.Packets != 1000 {
				t.Errorf("40000/tcp out = %+v, want 999 RSTs of 1000 replies", got)
			}
			if s.Note != "" {
				t.Errorf("note %q, want none", s.Note)
			}
		}},
		{"SYN flood: 4900 sources on one port", flagLocal("10.0.0.0/24"), flood, func(t *testing.T, s *Summary) {
			if got := port(s, 80, "tcp", In); got.SYNs != 4900 || got.Peers != 4900 {
				t.Errorf("80/tcp in = %+v, want 4900 SYNs from 4900 peers", got)
			}
			if s.Sources != 4900 || len(s.Top) != 0 {
				t.Errorf("sources %d (%d rows), want 4900 with no fan-out rows", s.Sources, len(s.Top))
			}
			if !strings.Contains(s.Note, "nothing from a local address") {
				t.Errorf("note %q, want one direction named", s.Note)
			}
		}},
		{"replies to a busy client's ephemeral ports are fan-out, not probes", flagLocal("10.0.0.0/24"), replies, func(t *testing.T, s *Summary) {
			if len(s.Top) != 1 || s.Top[0].LocalPorts != 300 || s.Top[0].ProbedPorts != 0 || s.Top[0].ProbedHosts != 0 {
				t.Errorf("sources %+v, want 300 local ports, none probed", s.Top)
			}
		}},
		{"a local host probing its neighbours is a source", flagLocal("10.0.0.0/24"), lateral, func(t *testing.T, s *Summary) {
			if s.Sources != 1 || len(s.Top) != 1 || s.Top[0].Address != "10.0.0.9" || s.Top[0].ProbedHosts != 20 || s.Top[0].ProbedPorts != 20 {
				t.Errorf("sources %d %+v, want 10.0.0.9 probing 20 hosts on one port", s.Sources, s.Top)
			}
		}},
		{"brute force: a remote source's repeated connections to one port", flagLocal("10.0.0.0/24"), brute, func(t *testing.T, s *Summary) {
			want := SourceStat{Address: "203.0.113.5", LocalPorts: 2, LocalHosts: 1, ProbedPorts: 2, ProbedHosts: 1, Packets: 121, SYNs: 61,
				Attempts: 60, AttemptHost: "10.0.0.2", AttemptPort: 22}
			if len(s.Top) != 1 || s.Top[0] != want {
				t.Errorf("sources %+v, want %+v", s.Top, want)
			}
		}},
		{"spoofed SYNs past the local side still count their sources", flagLocal("10.0.0.0/24"), spoofed, func(t *testing.T, s *Summary) {
			if s.SYNSources != 100 || s.Sources != 0 {
				t.Errorf("SYN sources %d, sources %d, want 100 and 0", s.SYNSources, s.Sources)
			}
		}},
		{"worm: unanswered probes outward on one port", flagLocal("10.0.0.0/24"), worm, func(t *testing.T, s *Summary) {
			if want := (SpreadStat{Source: "10.0.0.5", Port: 445, Hosts: 38}); s.Spread != want {
				t.Errorf("spread %+v, want %+v (answered hosts and the answered browsing left out)", s.Spread, want)
			}
		}},
		{"reflection: answers from a service port nobody asked", flagLocal("10.0.0.0/24"), reflected, func(t *testing.T, s *Summary) {
			if want := (ReflectStat{Port: 53, Sources: 29, Packets: 58}); s.Reflect != want {
				t.Errorf("reflect %+v, want %+v (the resolver asked is left out, a high source port is no service)", s.Reflect, want)
			}
		}},
		{"DNS tunnel: long labels, TXT, NXDOMAIN", flagLocal("10.0.0.2/32"), tunnel, func(t *testing.T, s *Summary) {
			d := s.DNS
			if d.Queries != 400 || d.Responses != 400 || d.Names != 400 || d.MaxLabel != 60 || d.TXTNullShare != 1 || d.NXDomainShare != 1 {
				t.Errorf("dns %+v, want 400 queries and names, labels of 60, all TXT and NXDOMAIN", d)
			}
			if want := (60.0 + 6 + 3) / 3; math.Abs(d.MeanLabel-want) > 1e-9 {
				t.Errorf("mean label %v, want %v", d.MeanLabel, want)
			}
			if d.Entropy < 3 || d.MaxEntropy < d.Entropy {
				t.Errorf("entropy mean %v max %v, want hex names above 3 bits", d.Entropy, d.MaxEntropy)
			}
			if len(s.Domains) != 1 || s.Domains[0] != (DomainStat{Domain: "pirate.sea", Queries: 400, Names: 400, MaxLabel: 60}) {
				t.Errorf("domains %+v, want pirate.sea with 400 names", s.Domains)
			}
			if d.NXDepth != 1 || !strings.HasSuffix(d.NXName, ".pirate.sea") {
				t.Errorf("NXDOMAIN depth %d of %q, want 1 under pirate.sea", d.NXDepth, d.NXName)
			}
		}},
		{"backdoor: sessions on a shell port", flagLocal("10.0.0.0/24"), shell, func(t *testing.T, s *Summary) {
			if want := (BackdoorStat{Host: "10.0.0.8", Port: 4444, Peers: 2}); s.Backdoor != want {
				t.Errorf("backdoor %+v, want %+v", s.Backdoor, want)
			}
		}},
		{"backdoor: a remote peer's session on a local one", flagLocal("10.0.0.0/24"), shell[4:], func(t *testing.T, s *Summary) {
			if want := (BackdoorStat{Host: "10.0.0.5", Port: 5554, Peers: 1}); s.Backdoor != want {
				t.Errorf("backdoor %+v, want %+v", s.Backdoor, want)
			}
		}},
		{"backdoor: clients on the ports, a scan, resets", flagLocal("10.0.0.0/24"), notShell, func(t *testing.T, s *Summary) {
			if s.Backdoor != (BackdoorStat{}) {
				t.Errorf("backdoor %+v, want none", s.Backdoor)
			}
		}},
		{"registered domains by the public suffix list", flagLocal("10.0.0.2/32"), []packet.Packet{
			query("www.example.co.uk", 1), query("mail.example.co.uk", 1), query("www.example.co.uk", 1), query("a.b.example.com.", 1), query(`\198\235x.bin.example.com`, 1)},
			func(t *testing.T, s *Summary) {
				// The \DDD escapes of binary bytes are 1 byte each: "\198\235x" is a 3-byte label.
				want := []DomainStat{{"example.co.uk", 3, 2, 7}, {"example.com", 2, 2, 7}}
				if fmt.Sprint(s.Domains) != fmt.Sprint(want) {
					t.Errorf("domains %+v, want %+v", s.Domains, want)
				}
				if want := (14 + 14 + 15 + 12 + 16) / 20.0; math.Abs(s.DNS.MeanLabel-want) > 1e-9 {
					t.Errorf("mean label %v, want %v", s.DNS.MeanLabel, want)
				}
			}},
		{"ICMP unreachables", flagLocal("10.0.0.2/32"), []packet.Packet{
			{SrcIP: "10.0.0.1", DstIP: "10.0.0.2", TCPFlags: -1, ICMPType: 3, Protocols: "eth:ipv4:icmp"},
			{SrcIP: "2001:db8::1", DstIP: "2001:db8::2", TCPFlags: -1, ICMPType: 1, ICMPv6: true, Protocols: "eth:ipv6:icmpv6"},
			{SrcIP: "10.0.0.1", DstIP: "10.0.0.2", TCPFlags: -1, ICMPType: 8, Protocols: "eth:ipv4:icmp"}},
			func(t *testing.T, s *Summary) {
				if s.Unreach != 2 || len(s.Ports) != 0 {
					t.Errorf("unreachables %d, port rows %d, want 2 and none", s.Unreach, len(s.Ports))
				}
			}},
		{"no IP traffic", Local{From: FromInferred}, []packet.Packet{{Protocols: "eth:arp", TCPFlags: -1, ICMPType: -1}}, func(t *testing.T, s *Summary) {
			if s.Packets != 1 || s.IPPackets != 0 || len(s.Ports) != 0 || s.Local.Prefixes != nil || s.Note != "no IP traffic" {
				t.Errorf("summary %+v, want one packet, zeros and the note", s)
			}
		}},
		{"no packets", Local{From: FromInferred}, nil, func(t *testing.T, s *Summary) {
			if s.Packets != 0 || s.DNS != (DNSStats{}) || s.Note != "no packets" {
				t.Errorf("summary %+v, want zeros and the note", s)
			}
		}},
		{"a single packet", Local{From: FromInferred}, []packet.Packet{udp("10.0.0.2", "10.0.0.1", 5000, 6000)}, func(t *testing.T, s *Summary) {
			if s.Packets != 1 || !strings.Contains(s.Note, "one direction only") {
				t.Errorf("summary %+v, want one packet and a one-direction note", s)
			}
			if s.DNS.Entropy != 0 || s.DNS.NXDomainShare != 0 || math.IsNaN(s.DNS.MeanLabel) {
				t.Errorf("dns %+v, want zeros without queries", s.DNS)
			}
		}},
		{"multicast and broadcast are never inferred local", Local{From: FromInferred}, []packet.Packet{
			udp("10.0.0.5", "224.0.0.251", 5353, 5353), udp("10.0.0.6", "224.0.0.251", 5353, 5353), udp("10.0.0.7", "255.255.255.255", 68, 67)},
			func(t *testing.T, s *Summary) {
				if got := s.Local.Prefixes; len(got) != 1 || got[0].Addr().IsMulticast() || got[0].Addr().String() == "255.255.255.255" {
					t.Errorf("inferred local %v, want a unicast sender", got)
				}
			}},
		{"interfaces: loopback traffic is both directions", Local{From: FromInterfaces, Prefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
			[]packet.Packet{tcp("127.0.0.1", "127.0.0.1", 50000, 8080, syn)}, func(t *testing.T, s *Summary) {
				if port(s, 8080, "tcp", In).SYNs != 1 || port(s, 8080, "tcp", Out).SYNs != 1 || len(s.Top) != 0 {
					t.Errorf("ports %+v sources %+v, want 8080 in and out, no remote source", s.Ports, s.Top)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, summarize(tt.local, tt.pkts)) })
	}
}

// TestBounds checks the per-round key bounds: memory stays flat, the
// totals stay right and the overflow is counted and noted.
func TestBounds(t *testing.T) {
	a := New()
	n := MaxKeys + 100
	for i := range n {
		p := tcp("198.51.100.7", fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255), 40000, 80, syn)
		a.Add(&p)
	}
	for i := range MaxNames + 10 {
		p := query(fmt.Sprintf("n%d.example.com", i), 1)
		a.Add(&p)
	}
	s := a.Summarize(flagLocal("10.0.0.0/8"))
	// Past the conversation bound: 100 SYNs and every query (a new
	// conversation); past the name bound: 10 queries more.
	if want := int64(100 + MaxNames + 10 + 10); s.Packets != int64(n+MaxNames+10) || s.Overflow != want {
		t.Errorf("packets %d overflow %d, want %d and %d", s.Packets, s.Overflow, n+MaxNames+10, want)
	}
	if s.DNS.Queries != MaxNames+10 || s.DNS.Names != MaxNames {
		t.Errorf("dns queries %d names %d, want %d and %d", s.DNS.Queries, s.DNS.Names, MaxNames+10, MaxNames)
	}
	if !strings.Contains(s.Note, "key bound") {
		t.Errorf("note %q, want the bound named", s.Note)
	}
	if len(a.flows) != 0 || a.packets != 0 || len(a.dns.names) != 0 {
		t.Errorf("Summarize left %d flows, %d packets, %d names for the next round", len(a.flows), a.packets, len(a.dns.names))
	}
}

// TestNXDepth: the deepest NXDOMAIN name below its registered domain,
// reverse lookups and answered names left out.
func TestNXDepth(t *testing.T) {
	for _, tt := range []struct {
		name  string
		pkts  []packet.Packet
		depth int
		nx    string
	}{
		{"exfiltration labels", []packet.Packet{response("gmr02c.16.0.fhkfhsdkfhsk.tunnel.example.com", 3)}, 5, "gmr02c.16.0.fhkfhsdkfhsk.tunnel.example.com"},
		{"public suffix of two labels", []packet.Packet{response("a.b.example.co.uk.", 3)}, 2, "a.b.example.co.uk."},
		{"the deepest of several", []packet.Packet{response("x.example.com", 3), response("a.b.c.example.org", 3), response("p.q.example.net", 3)}, 3, "a.b.c.example.org"},
		{"answered names do not count", []packet.Packet{response("a.b.c.d.e.f.example.com", 0), response("print.example.com", 3)}, 1, "print.example.com"},
		{"reverse lookups do not count", []packet.Packet{response("b.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.f.f.ip6.arpa", 3),
			response("lb._dns-sd._udp.0.0.0.10.in-addr.arpa", 3)}, 0, ""},
		{"a single label has no registered domain", []packet.Packet{response("xqt-detect-mode2-97712e88", 3), response("local", 3)}, 0, ""},
		{"queries are not answers", []packet.Packet{query("a.b.c.d.example.com", 1)}, 0, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := summarize(flagLocal("10.0.0.2/32"), tt.pkts).DNS
			if d.NXDepth != tt.depth || d.NXName != tt.nx {
				t.Errorf("NXDOMAIN depth %d of %q, want %d of %q", d.NXDepth, d.NXName, tt.depth, tt.nx)
			}
		})
	}
}

func TestEntropy(t *testing.T) {
	for _, tt := range []struct {
		name string
		want float64
	}{{"", 0}, {"aaaa", 0}, {"ab.ab", 1}, {"abcd", 2}} {
		if got := entropy(tt.name); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("entropy(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// BenchmarkAdd is the per-packet cost ingest pays for the summary.
func BenchmarkAdd(b *testing.B) {
	pkts := make([]packet.Packet, 4096)
	for i := range pkts {
		pkts[i] = tcp(fmt.Sprintf("192.0.2.%d", i%200), "10.0.0.2", uint16(40000+i), uint16(i%50), ack)
	}
	a := New()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		a.Add(&pkts[i%len(pkts)])
	}
}
