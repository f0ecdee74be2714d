package portscan

import (
	"errors"
	"net/netip"
	"portwatch/pkg/sock"
	"slices"
	"strings"
	"testing"
)

func TestWriteTable(t *testing.T) {
	a := netip.MustParseAddr
	host := sock.Netns{Inode: 4026531840, Host: true}
	box := sock.Netns{Inode: 4026532178, Name: "docker:0123456789ab"}
	socks := []sock.Socket{
		{Protocol: sock.UDP, Family: 4, Address: a("0.0.0.0"), Port: 53, State: sock.Unconn},
		{Protocol: sock.TCP, Family: 6, Address: a("::1"), Port: 22, State: sock.Listen, PID: 1, Process: "sshd", Netns: host},
		{Protocol: sock.TCP, Family: 4, Address: a("127.0.0.1"), Port: 8080, State: sock.Established, PID: 4242, Process: "portscan.test", Netns: host},
		{Protocol: sock.TCP, Family: 4, Address: a("0.0.0.0"), Port: 22, State: sock.Listen, PID: 1, Process: "sshd", Netns: host},
		{Protocol: sock.TCP, Family: 4, Address: a("0.0.0.0"), Port: 22, State: sock.Listen, PID: 77, Process: "sshd", Netns: box},
		{Protocol: sock.TCP, Family: 4, Address: a("127.0.0.1"), Port: 8080, State: sock.Listen, PID: 4242, Process: "portscan.test", Netns: host},
		{Protocol: sock.TCP, Family: 4, Address: a("127.0.0.1"), Port: 8080, State: sock.Listen, PID: 99, Process: "nc", Netns: sock.Netns{Inode: 4026532300}},
	}
	in := slices.Clone(socks)
	var b strings.Builder
	if err := WriteTable(&b, socks); err != nil {
		t.Fatal(err)
	}
	want := `PROTO  FAMILY  ADDRESS    PORT  STATE        PID   PROCESS        NETNS       CONTAINER
tcp    4       0.0.0.0    22    listen       1     sshd           4026531840  host
tcp    4       0.0.0.0    22    listen       77    sshd           4026532178  docker:0123456789ab
tcp    6       ::1        22    listen       1     sshd           4026531840  host
tcp    4       127.0.0.1  8080  established  4242  portscan.test  4026531840  host
tcp    4       127.0.0.1  8080  listen       4242  portscan.test  4026531840  host
tcp    4       127.0.0.1  8080  listen       99    nc             4026532300  -
udp    4       0.0.0.0    53    unconn       -     -              -           -
`
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if !slices.Equal(socks, in) {
		t.Errorf("WriteTable reordered its input: got %v, want %v", socks, in)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteTableError(t *testing.T) {
	err := WriteTable(failWriter{}, []sock.Socket{{Protocol: sock.TCP, Family: 4, Address: netip.IPv4Unspecified(), Port: 1, State: sock.Listen}})
	if got, want := err, "write socket table: disk full"; got == nil || got.Error() != want {
		t.Errorf("got %v, want %q", got, want)
	}
}
