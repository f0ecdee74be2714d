package pcaptl_test

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"

	"portwatch/internal/eval/pcaptl"
	"portwatch/pkg/capture/capturetest"
	"portwatch/pkg/packet"
)

var (
	t0    = time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)
	local = []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}
)

// sec is a time s seconds into the packet sets.
func sec(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// tcp is a TCP segment; flags as packet.Packet holds them.
func tcp(at time.Time, src string, sport uint16, dst string, dport uint16, flags int) packet.Packet {
	return packet.Packet{Time: at, Protocols: "eth:ipv4:tcp", SrcIP: src, DstIP: dst, SrcPort: sport, DstPort: dport, TCPFlags: flags}
}

const (
	syn    = capturetest.SYN
	ack    = capturetest.ACK
	rst    = capturetest.RST
	synAck = syn | ack
)

// minutes is a DNS lookup at the start of each of n minutes, so every
// minute is a round of its own.
func minutes(n int) []packet.Packet {
	var out []packet.Packet
	for m := range n {
		out = append(out, packet.Packet{Time: sec(float64(60 * m)), Protocols: "eth:ipv4:udp:dns", SrcIP: "192.168.1.5", DstIP: "192.168.1.1",
			SrcPort: 40000, DstPort: 53, TCPFlags: -1})
	}
	return out
}

// probes sends n probes from src, the i-th at start + i*step, to the port
// and host port(i) and host(i) give.
func probes(src string, n int, start, step float64, flags int, host func(int) string, port func(int) uint16) []packet.Packet {
	var out []packet.Packet
	for i := range n {
		out = append(out, tcp(sec(start+float64(i)*step), src, 40000, host(i), port(i), flags))
	}
	return out
}

func one(s string) func(int) string       { return func(int) string { return s } }
func onePort(p uint16) func(int) uint16   { return func(int) uint16 { return p } }
func ports(first uint16) func(int) uint16 { return func(i int) uint16 { return first + uint16(i) } }
func hosts(i int) string                  { return fmt.Sprintf("192.168.2.%d", i+1) }

// cut sorts packets by time and cuts them into minute rounds.
func cut(packets []packet.Packet) []pcaptl.Round {
	slices.SortStableFunc(packets, func(a, b packet.Packet) int { return a.Time.Compare(b.Time) })
	c := pcaptl.NewCutter(time.Minute, local)
	for i := range packets {
		c.Add(&packets[i])
	}
	return c.Rounds()
}

func flagged(rounds []pcaptl.Round, anomalous func(*pcaptl.Round) bool) []int {
	var out []int
	for i := range rounds {
		if anomalous(&rounds[i]) {
			out = append(out, i)
		}
	}
	return out
}

func TestZeekRule(t *testing.T) {
	const scanner = "203.0.113.9"
	answered := probes(scanner, 15, 1, 0.1, syn, one("192.168.1.5"), ports(1))
	for _, p := range slices.Clone(answered) {
		answered = append(answered, tcp(p.Time.Add(time.Millisecond), p.DstIP, p.DstPort, p.SrcIP, p.SrcPort, synAck))
	}
	tests := []struct {
		name    string
		minutes int
		packets []packet.Packet
		want    []int // flagged rounds
	}{
		{"15 ports of a host", 3, probes(scanner, 15, 61, 0.1, syn, one("192.168.1.5"), ports(1)), []int{1}},
		{"14 ports of a host", 3, probes(scanner, 14, 61, 0.1, syn, one("192.168.1.5"), ports(1)), nil},
		{"FIN, NULL and Xmas probes count", 2, probes(scanner, 15, 1, 0.1, capturetest.FIN|capturetest.PSH, one("192.168.1.5"), ports(1)), []int{0}},
		{"ACK probes do not", 2, probes(scanner, 30, 1, 0.1, ack, one("192.168.1.5"), ports(1)), nil},
		{"nor RSTs", 2, probes(scanner, 30, 1, 0.1, rst, one("192.168.1.5"), ports(1)), nil},
		{"answered attempts are not failed ones", 2, answered, nil},
		{"ports of a host not local", 2, probes("192.168.1.5", 30, 1, 0.1, syn, one("93.184.216.34"), ports(1)), nil},
		{"25 hosts on a port", 2, probes(scanner, 25, 1, 0.1, syn, hosts, onePort(23)), []int{0}},
		{"24 hosts on a port", 2, probes(scanner, 24, 1, 0.1, syn, hosts, onePort(23)), nil},
		{"25 hosts, each on another port", 2, probes(scanner, 25, 1, 0.1, syn, hosts, ports(1000)), nil},
		// 4 ports a minute: 16 within 5 minutes by the 4th.
		{"slow scan crosses when 15 fall in 5 minutes", 6, probes(scanner, 24, 0, 15, syn, one("192.168.1.5"), ports(1)), []int{3}},
		// 2 ports a minute: at most 10 within any 5 minutes.
		{"slower scan never does", 12, probes(scanner, 24, 0, 30, syn, one("192.168.1.5"), ports(1)), nil},
		// 10 ports a minute for 12 minutes: crosses at 84 s, again 5 min later, and again.
		{"a long scan crosses once every 5 minutes", 12, probes(scanner, 120, 0, 6, syn, one("192.168.1.5"), ports(1)), []int{1, 6, 11}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rounds := cut(append(minutes(tt.minutes), tt.packets...))
			if len(rounds) != tt.minutes {
				t.Fatalf("cut %d rounds, want %d", len(rounds), tt.minutes)
			}
			rule := pcaptl.ZeekRule{}
			if got := flagged(rounds, rule.Anomalous); !slices.Equal(got, tt.want) {
				t.Errorf("flagged rounds: got %v, want %v", got, tt.want)
			}
			for _, i := range tt.want {
				if s := rule.Score(&rounds[i]); s < 1 {
					t.Errorf("round %d flagged with score %v, want 1 or more", i, s)
				}
			}
		})
	}
}

// visits are n web visits from 192.168.1.5 each minute of rounds from
// minute first: SYN, SYN+ACK, ACK and three data segments, from a port of
// its own.
func visits(first, rounds, n int) []packet.Packet {
	var out []packet.Packet
	for m := first; m < first+rounds; m++ {
		for v := range n {
			at := float64(60*m + 1 + 5*v)
			port := uint16(50000 + 20*m + v)
			out = append(out,
				tcp(sec(at), "192.168.1.5", port, "93.184.216.34", 443, syn),
				tcp(sec(at+0.02), "93.184.216.34", 443, "192.168.1.5", port, synAck),
				tcp(sec(at+0.03), "192.168.1.5", port, "93.184.216.34", 443, ack),
				tcp(sec(at+0.04), "192.168.1.5", port, "93.184.216.34", 443, ack|capturetest.PSH),
				tcp(sec(at+0.3), "93.184.216.34", 443, "192.168.1.5", port, ack|capturetest.PSH),
				tcp(sec(at+0.4), "192.168.1.5", port, "93.184.216.34", 443, ack))
		}
	}
	return out
}

func TestRatioRule(t *testing.T) {
	const train = 5 // rounds of 2 visits a minute: port ratio 1, SYN share 1/6
	at := func(m int, s float64) float64 { return float64(60*(train+m)) + s }
	spoofed := func(n int) []packet.Packet {
		var out []packet.Packet
		for i := range n {
			out = append(out, tcp(sec(at(0, 10+float64(i)*0.01)), fmt.Sprintf("198.51.%d.%d", i/250, i%250+1), uint16(1024+i), "192.168.1.5", 80, syn))
		}
		return out
	}
	tests := []struct {
		name    string
		packets []packet.Packet // in test round 0, beside its visits
		want    bool
	}{
		{"like training", nil, false},
		{"more of the same", visits(train, 1, 8)[12:], false},
		// One source port to 50 ports: 53 destination ports over 4 source ports.
		{"vertical scan", probes("203.0.113.9", 50, at(0, 10), 0.01, syn, one("192.168.1.5"), ports(1)), true},
		// 200 SYNs: SYN share 202/212, ports 1+... over 202.
		{"SYN flood from spoofed sources", spoofed(200), true},
		// 4 SYNs more: share 6/16, above 1.5 x 1/6.
		{"a few half-open connections", probes("192.168.1.5", 4, at(0, 30), 1, syn, one("93.184.216.34"), onePort(443)), true},
		{"one half-open connection", probes("192.168.1.5", 1, at(0, 30), 1, syn, one("93.184.216.34"), onePort(443)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rounds := cut(append(append(minutes(train+2), visits(0, train+2, 2)...), tt.packets...))
			if len(rounds) != train+2 {
				t.Fatalf("cut %d rounds, want %d", len(rounds), train+2)
			}
			rule := pcaptl.TrainRatio(rounds[:train])
			if rule.MaxPortRatio != 1 || math.Abs(rule.MaxSYNShare-1.0/6) > 1e-9 {
				t.Fatalf("trained: got %+v, want port ratio 1 and SYN share 1/6", rule)
			}
			if got := flagged(rounds[train:], rule.Anomalous); !slices.Equal(got, map[bool][]int{true: {0}}[tt.want]) {
				t.Errorf("flagged test rounds: got %v, want round 0 %v", got, tt.want)
			}
		})
	}
}

// TestRatioRuleEmpty: rounds without ports or TCP give zeros, and a
// training maximum of 0 flags any round above it.
func TestRatioRuleEmpty(t *testing.T) {
	arp := packet.Packet{Time: sec(0), Protocols: "eth:arp", TCPFlags: -1}
	rounds := cut([]packet.Packet{arp})
	if r := rounds[0]; r.PortRatio() != 0 || r.SYNShare() != 0 {
		t.Fatalf("round without IP: port ratio %v, SYN share %v, want 0 and 0", r.PortRatio(), r.SYNShare())
	}
	rule := pcaptl.TrainRatio(rounds)
	if rule.Anomalous(&rounds[0]) {
		t.Error("a round like training flagged")
	}
	test := cut([]packet.Packet{tcp(sec(0), "192.168.1.5", 50000, "93.184.216.34", 443, syn)})
	if !rule.Anomalous(&test[0]) || !math.IsInf(rule.Score(&test[0]), 1) {
		t.Errorf("a SYN after training without TCP: score %v, want +Inf, flagged", rule.Score(&test[0]))
	}
}
