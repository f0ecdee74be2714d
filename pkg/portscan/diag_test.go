package portscan

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"portwatch/pkg/sock"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// nlmsg builds one netlink message of type typ around payload, padded to 4 bytes.
func nlmsg(typ uint16, payload []byte) []byte {
	b := make([]byte, nlmsgHdrLen+len(payload), (nlmsgHdrLen+len(payload)+3)&^3)
	binary.NativeEndian.PutUint32(b, uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	copy(b[nlmsgHdrLen:], payload)
	return b[:cap(b)]
}

// inetDiagMsg builds a struct inet_diag_msg for a socket bound to ap in state st.
func inetDiagMsg(family byte, st byte, ap netip.AddrPort, inode uint32) []byte {
	m := make([]byte, inetDiagMsgLen)
	m[0], m[1] = family, st
	binary.BigEndian.PutUint16(m[4:], ap.Port())
	copy(m[8:24], ap.Addr().AsSlice())
	binary.NativeEndian.PutUint32(m[68:], inode)
	return m
}

func TestParseDiag(t *testing.T) {
	listener := nlmsg(sockDiagByFamily, inetDiagMsg(linuxAFInet, 0x0A, netip.MustParseAddrPort("127.0.0.1:8080"), 77))
	errno := func(e syscall.Errno) []byte {
		return nlmsg(nlmsgError, binary.NativeEndian.AppendUint32(nil, uint32(-int32(e))))
	}
	tests := []struct {
		name string
		in   []byte
		want []string // entryString of each entry
		done bool
		err  string // error text, "" for none
	}{
		{"listener then done", slices.Concat(listener, nlmsg(nlmsgDone, make([]byte, 4))),
			[]string{"tcp 4 127.0.0.1 8080 listen 77"}, true, ""},
		{"ipv4-mapped stays family 6", nlmsg(sockDiagByFamily, inetDiagMsg(linuxAFInet6, 0x01, netip.MustParseAddrPort("[::ffff:10.0.0.1]:443"), 1<<32-1)),
			[]string{"tcp 6 ::ffff:10.0.0.1 443 established 4294967295"}, false, ""},
		{"attributes after the message", nlmsg(sockDiagByFamily, append(inetDiagMsg(linuxAFInet, 0x06, netip.MustParseAddrPort("10.0.0.1:1"), 0), 5, 0, 8, 0, 0)),
			[]string{"tcp 4 10.0.0.1 1 time-wait 0"}, false, ""},
		{"reply to the one-walk TCP request", nlmsg(tcpDiagGetSock, inetDiagMsg(linuxAFInet6, 0x0A, netip.MustParseAddrPort("[::1]:22"), 9)),
			[]string{"tcp 6 ::1 22 listen 9"}, false, ""},
		{"more to come", listener, []string{"tcp 4 127.0.0.1 8080 listen 77"}, false, ""},
		{"empty", nil, nil, false, ""},

		{"short header", []byte{1, 2, 3}, nil, false, "byte 0: 3 bytes left, want a 16-byte netlink header"},
		{"length past the end", slices.Concat(listener, []byte{0xE8, 3, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
			[]string{"tcp 4 127.0.0.1 8080 listen 77"}, false, "byte 88: message length 1000, want 16 to 16"},
		{"length inside the header", []byte{8, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, nil, false, "message length 8"},
		{"kernel refuses", errno(syscall.EPERM), nil, false, "sock_diag: operation not permitted"},
		{"error without its code", nlmsg(nlmsgError, nil), nil, false, "error message of 0 bytes"},
		{"error that is an ack", nlmsg(nlmsgError, make([]byte, 4)), nil, false, "byte 0: error message with code 0, want a negative errno"},
		{"unexpected type", nlmsg(1, nil), nil, false, "byte 0: netlink message type 1, want 20"},
		{"short inet_diag_msg", nlmsg(sockDiagByFamily, make([]byte, 10)), nil, false, "byte 0: inet_diag_msg of 10 bytes, want 72"},
		{"unix socket", nlmsg(sockDiagByFamily, append([]byte{1}, make([]byte, 71)...)), nil, false, "address family 1, want 2 or 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, done, err := parseDiag(tt.in, sock.TCP, nil)
			checkErr(t, err, tt.err)
			var got []string
			for _, e := range entries {
				got = append(got, entryString(e))
			}
			if !slices.Equal(got, tt.want) || done != tt.done {
				t.Errorf("got %q, done %v; want %q, done %v", got, done, tt.want, tt.done)
			}
		})
	}
	if _, _, err := parseDiag(errno(syscall.EPERM), sock.TCP, nil); !errors.Is(err, syscall.EPERM) {
		t.Errorf("got %v, want it to wrap EPERM", err)
	}
}

// TestDumpDiagLive asks this host's kernel over netlink for sockets the test opened.
func TestDumpDiagLive(t *testing.T) {
	addr := func(t *testing.T, s string) netip.AddrPort {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			t.Fatal(err)
		}
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	tests := []struct {
		name   string
		proto  sock.Protocol
		state  sock.State
		family int
		open   func(t *testing.T) netip.AddrPort
	}{
		{"tcp4 listener", sock.TCP, sock.Listen, 4, func(t *testing.T) netip.AddrPort {
			return addr(t, listen(t, "tcp4", "127.0.0.1:0").Addr().String())
		}},
		{"tcp6 listener", sock.TCP, sock.Listen, 6, func(t *testing.T) netip.AddrPort {
			return addr(t, listen(t, "tcp6", "[::1]:0").Addr().String())
		}},
		{"udp4 bound", sock.UDP, sock.Unconn, 4, func(t *testing.T) netip.AddrPort {
			return addr(t, listenUDP(t, "udp4", "127.0.0.1:0").LocalAddr().String())
		}},
		{"udp6 bound", sock.UDP, sock.Unconn, 6, func(t *testing.T) netip.AddrPort {
			return addr(t, listenUDP(t, "udp6", "[::1]:0").LocalAddr().String())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ap := tt.open(t)
			want := sock.Socket{Protocol: tt.proto, Family: tt.family, Address: ap.Addr(), Port: ap.Port(), State: tt.state}
			dumps := []int{tt.family}
			if tt.proto == sock.TCP {
				dumps = append(dumps, 0) // both families in one dump
			}
			for _, family := range dumps {
				entries, err := dumpDiag(tt.proto, family, nil)
				for _, unsupported := range []error{errors.ErrUnsupported, syscall.EPROTONOSUPPORT, syscall.EAFNOSUPPORT, syscall.ENOENT} {
					if errors.Is(err, unsupported) {
						t.Skipf("no sock_diag for %s%d here: %v", tt.proto, family, err)
					}
				}
				if err != nil {
					t.Fatalf("dumpDiag %s%d: %v", tt.proto, family, err)
				}
				if !slices.ContainsFunc(entries, func(e entry) bool { return e.Socket == want && e.inode != 0 }) {
					t.Errorf("dump %s%d: %d sockets, none is %+v with an inode", tt.proto, family, len(entries), want)
				}
			}
		})
	}
}

func FuzzParseDiag(f *testing.F) {
	for _, table := range []string{"tcp", "tcp6", "udp", "udp6"} {
		f.Add(readFixture(f, "sock_diag", table))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, _, err := parseDiag(b, sock.UDP, nil)
		if err != nil && !strings.HasPrefix(err.Error(), "byte ") && !strings.HasPrefix(err.Error(), "sock_diag: ") {
			t.Errorf("error %q names no offset", err)
		}
		if max := len(b) / (nlmsgHdrLen + inetDiagMsgLen); len(entries) > max {
			t.Errorf("got %d entries from %d bytes, want at most %d", len(entries), len(b), max)
		}
		for _, e := range entries {
			if e.Address.Is4() != (e.Family == 4) || e.State > sock.Unconn {
				t.Errorf("inconsistent entry %+v", e)
			}
		}
	})
}
