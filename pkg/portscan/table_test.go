package portscan

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestWriteTable(t *testing.T) {
	a := netip.MustParseAddr
	host := Netns{Inode: 4026531840, Host: true}
	box := Netns{Inode: 4026532178, Name: "docker:0123456789ab"}
	socks := []Socket{
		{"udp", 4, a("0.0.0.0"), 53, "unconn", 0, "", Netns{}},
		{"tcp", 6, a("::1"), 22, "listen", 1, "sshd", host},
		{"tcp", 4, a("127.0.0.1"), 8080, "established", 4242, "portscan.test", host},
		{"tcp", 4, a("0.0.0.0"), 22, "listen", 1, "sshd", host},
		{"tcp", 4, a("0.0.0.0"), 22, "listen", 77, "sshd", box},
		{"tcp", 4, a("127.0.0.1"), 8080, "listen", 4242, "portscan.test", host},
		{"tcp", 4, a("127.0.0.1"), 8080, "listen", 99, "nc", Netns{Inode: 4026532300}},
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
	err := WriteTable(failWriter{}, []Socket{{Protocol: "tcp", Family: 4, Address: netip.IPv4Unspecified(), Port: 1, State: "listen"}})
	if got, want := err, "write socket table: disk full"; got == nil || got.Error() != want {
		t.Errorf("got %v, want %q", got, want)
	}
}
