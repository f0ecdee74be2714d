package detector

import (
	"net/netip"
	"testing"

	"portwatch/pkg/features"
	"portwatch/pkg/sock"
	"portwatch/pkg/store"
	"portwatch/pkg/traffic"
)

func TestExplain(t *testing.T) {
	l, err := features.NewLayout(features.OccupancyChannels())
	if err != nil {
		t.Fatal(err)
	}
	sshd := sock.Socket{Port: 22, Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr("0.0.0.0"), State: sock.Listen, Process: "sshd"}
	nc6 := sock.Socket{Port: 4444, Protocol: sock.TCP, Family: 6, Address: netip.MustParseAddr("::"), State: sock.Listen, Process: "nc", Netns: sock.Netns{Inode: 4026532000}}
	nc4 := sock.Socket{Port: 4444, Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr("0.0.0.0"), State: sock.Listen, Process: "nc", Netns: sock.Netns{Inode: 4026531840, Host: true}}
	dns := sock.Socket{Port: 5353, Protocol: sock.UDP, Family: 4, Address: netip.MustParseAddr("0.0.0.0"), State: sock.Unconn, Process: "avahi-daemon"}
	before := &store.Round{ID: 1, Sockets: []sock.Socket{sshd}}
	after := &store.Round{ID: 2, Sockets: []sock.Socket{nc4, nc6, dns}}
	w := features.Window{Rounds: []*store.Round{before, after}}
	tests := []struct {
		name string
		cell Cell
		want Port
	}{
		{"new on both families", Cell{Channel: 0, Port: 4444, Observed: 1, Expected: 0.001, Error: 6.9},
			Port{Port: 4444, Protocol: "tcp", State: "listen", Channel: "tcp_listen", Change: "new", Address: "0.0.0.0,::", Process: "nc", Container: "host,net:[4026532000]", Family: "4,6", Netns: "host,net:[4026532000]"}},
		{"vanished, named from the earlier round", Cell{Channel: 0, Port: 22, Observed: 0, Expected: 0.99, Error: 4.6},
			Port{Port: 22, Protocol: "tcp", State: "listen", Channel: "tcp_listen", Change: "vanished", Address: "0.0.0.0", Process: "sshd", Family: "4"}},
		{"udp", Cell{Channel: 1, Port: 5353, Observed: 1, Expected: 0.01, Error: 4.6},
			Port{Port: 5353, Protocol: "udp", State: "unconn", Channel: "udp_bound", Change: "new", Address: "0.0.0.0", Process: "avahi-daemon", Family: "4"}},
		{"never seen anywhere", Cell{Channel: 2, Port: 40000, Observed: 0, Expected: 0.9, Error: 2.3},
			Port{Port: 40000, Protocol: "tcp", State: "established", Channel: "tcp_conn", Change: "vanished"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := explain(l, w, []Cell{tt.cell})[0]
			tt.want.Error, tt.want.Observed, tt.want.Expected = tt.cell.Error, tt.cell.Observed, tt.cell.Expected
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// A port used inside a container is named with the container, on every channel it sets, and in
// the table's text; a host-only port names none.
func TestExplainNamesContainer(t *testing.T) {
	l, err := features.NewLayout([]string{features.TCPListen, features.TCPListenContainer})
	if err != nil {
		t.Fatal(err)
	}
	host := sock.Netns{Inode: 4026531840, Host: true}
	sshd := sock.Socket{Port: 22, Protocol: sock.TCP, Family: 4, Address: netip.IPv4Unspecified(), State: sock.Listen, Process: "sshd", Netns: host}
	nginx := sock.Socket{Port: 8080, Protocol: sock.TCP, Family: 4, Address: netip.IPv4Unspecified(), State: sock.Listen, Process: "nginx",
		Netns: sock.Netns{Inode: 4026532999, Name: "docker:0123abcd"}}
	web := sock.Socket{Port: 8080, Protocol: sock.TCP, Family: 4, Address: netip.IPv4Unspecified(), State: sock.Listen, Process: "python3", Netns: host}
	unnamed := sock.Socket{Port: 9000, Protocol: sock.TCP, Family: 6, Address: netip.IPv6Unspecified(), State: sock.Listen, Process: "redis",
		Netns: sock.Netns{Inode: 4026533000}}
	before := &store.Round{ID: 1, Sockets: []sock.Socket{sshd}}
	tests := []struct {
		name     string
		last     []sock.Socket
		cell     Cell
		want     string // Container
		wantText string
	}{
		{"new in a container", []sock.Socket{sshd, nginx}, Cell{Channel: 1, Port: 8080, Observed: 1, Expected: 0.001, Error: 6.1},
			"docker:0123abcd", "8080/tcp listen 0.0.0.0 nginx (container docker:0123abcd) (new 6.1)"},
		{"host and container on one port", []sock.Socket{sshd, web, nginx}, Cell{Channel: 0, Port: 8080, Observed: 1, Expected: 0.001, Error: 6.1},
			"host,docker:0123abcd", "8080/tcp listen 0.0.0.0 python3,nginx (container host,docker:0123abcd) (new 6.1)"},
		{"a namespace without a name", []sock.Socket{sshd, unnamed}, Cell{Channel: 1, Port: 9000, Observed: 1, Expected: 0.001, Error: 6.1},
			"net:[4026533000]", "9000/tcp listen :: redis (container net:[4026533000]) (new 6.1)"},
		{"host only names none", []sock.Socket{}, Cell{Channel: 0, Port: 22, Observed: 0, Expected: 0.99, Error: 4.6},
			"", "22/tcp listen 0.0.0.0 sshd (vanished 4.6)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := features.Window{Rounds: []*store.Round{before, {ID: 2, Sockets: tt.last}}}
			got := explain(l, w, []Cell{tt.cell})
			if got[0].Container != tt.want {
				t.Errorf("container: got %q, want %q", got[0].Container, tt.want)
			}
			if text := portsText(got, tablePorts); text != tt.wantText {
				t.Errorf("text: got %q, want %q", text, tt.wantText)
			}
		})
	}
}

// Traffic cells are labelled by what was counted: a peers_in cell by the
// protocol whose peers it counts (the busier of a port's tcp and udp), in
// the round itself when new and the latest earlier round with it when
// vanished, never as a tcp listener.
func TestExplainTrafficCells(t *testing.T) {
	l, err := features.NewLayout(features.TrafficChannels()) // syn_in, tcp_in, udp_in, peers_in
	if err != nil {
		t.Fatal(err)
	}
	in := func(port uint16, protocol string, peers int64) traffic.PortStat {
		return traffic.PortStat{Port: port, Protocol: protocol, Direction: traffic.In, Packets: 10 * peers, Peers: peers}
	}
	out := traffic.PortStat{Port: 8443, Protocol: "udp", Direction: traffic.Out, Packets: 90, Peers: 9}
	earlier := &store.Round{ID: 1, Traffic: &traffic.Summary{Ports: []traffic.PortStat{in(5060, "udp", 12)}}}
	middle := &store.Round{ID: 2} // no capture
	last := &store.Round{ID: 3, Traffic: &traffic.Summary{Ports: []traffic.PortStat{
		in(53, "tcp", 2), in(53, "udp", 5), in(123, "udp", 35), in(8443, "tcp", 3), out, in(30303, "tcp", 4),
	}}}
	w := features.Window{Rounds: []*store.Round{earlier, middle, last}}
	const syn, tcpIn, udpIn, peers = 0, 1, 2, 3
	tests := []struct {
		name           string
		cell           Cell
		protocol, text string
	}{
		{"NTP from 35 peers", Cell{Channel: peers, Port: 123, Observed: 0.5, Expected: 1e-6, Error: 6.9}, "udp", "123/udp peers (new 6.9)"},
		{"a peer-to-peer port", Cell{Channel: peers, Port: 30303, Observed: 0.2, Expected: 1e-6, Error: 2.8}, "tcp", "30303/tcp peers (new 2.8)"},
		{"tcp and udp: the busier", Cell{Channel: peers, Port: 53, Observed: 0.25, Expected: 1e-3, Error: 1.7}, "udp", "53/udp peers (new 1.7)"},
		{"outbound traffic is not counted", Cell{Channel: peers, Port: 8443, Observed: 0.2, Expected: 1e-3, Error: 1.4}, "tcp", "8443/tcp peers (new 1.4)"},
		{"vanished, from an earlier round", Cell{Channel: peers, Port: 5060, Observed: 0, Expected: 0.9, Error: 2.3}, "udp", "5060/udp peers (vanished 2.3)"},
		{"vanished, in no round", Cell{Channel: peers, Port: 9999, Observed: 0, Expected: 0.9, Error: 2.3}, "tcp,udp", "9999/tcp,udp peers (vanished 2.3)"},
		{"syn_in", Cell{Channel: syn, Port: 22, Observed: 0.1, Expected: 1e-3, Error: 1}, "tcp", "22/tcp syn (new 1.0)"},
		{"tcp_in", Cell{Channel: tcpIn, Port: 8443, Observed: 0.3, Expected: 1e-3, Error: 2}, "tcp", "8443/tcp in (new 2.0)"},
		{"udp_in", Cell{Channel: udpIn, Port: 123, Observed: 0.6, Expected: 1e-3, Error: 4}, "udp", "123/udp in (new 4.0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := explain(l, w, []Cell{tt.cell})
			if got[0].Protocol != tt.protocol {
				t.Errorf("protocol: got %q, want %q", got[0].Protocol, tt.protocol)
			}
			if text := portsText(got, tablePorts); text != tt.text {
				t.Errorf("text: got %q, want %q", text, tt.text)
			}
		})
	}
}
