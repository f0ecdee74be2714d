package detector

import (
	"net/netip"
	"testing"

	"portwatch/pkg/features"
	"portwatch/pkg/sock"
	"portwatch/pkg/store"
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
