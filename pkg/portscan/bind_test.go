package portscan

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestBindScanner(t *testing.T) {
	port := func(a net.Addr) uint16 {
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			t.Fatal(err)
		}
		return ap.Port()
	}
	busy := func(proto string, family int, p uint16) Socket {
		addr, state := netip.IPv4Unspecified(), "listen"
		if family == 6 {
			addr = netip.IPv6Unspecified()
		}
		if proto == "udp" {
			state = "unconn"
		}
		return Socket{Protocol: proto, Family: family, Address: addr, Port: p, State: state}
	}
	tests := []struct {
		name string
		open func(t *testing.T) (uint16, []Socket) // opens a socket, returns the port to probe and the want
	}{
		{"tcp4 listener on 127.0.0.1", func(t *testing.T) (uint16, []Socket) {
			p := port(listen(t, "tcp4", "127.0.0.1:0").Addr())
			return p, []Socket{busy("tcp", 4, p)}
		}},
		{"tcp6 listener on ::1 is not seen as ipv4", func(t *testing.T) (uint16, []Socket) {
			p := port(listen(t, "tcp6", "[::1]:0").Addr())
			return p, []Socket{busy("tcp", 6, p)}
		}},
		{"udp4 bound on 127.0.0.1", func(t *testing.T) (uint16, []Socket) {
			p := port(listenUDP(t, "udp4", "127.0.0.1:0").LocalAddr())
			return p, []Socket{busy("udp", 4, p)}
		}},
		{"port 65535, which the old tool never probed", func(t *testing.T) (uint16, []Socket) {
			listen(t, "tcp4", "127.0.0.1:65535")
			return 65535, []Socket{busy("tcp", 4, 65535)}
		}},
		{"port just freed", func(t *testing.T) (uint16, []Socket) {
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			p := port(ln.Addr())
			ln.Close()
			return p, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, want := tt.open(t)
			got, err := (&BindScanner{First: p, Last: p}).Scan(t.Context())
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestBindScannerFullRange(t *testing.T) {
	if testing.Short() {
		t.Skip("probes all 4x65535 ports, about a second")
	}
	ln := listen(t, "tcp4", "127.0.0.1:0")
	ap, err := netip.ParseAddrPort(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewBindScanner().Scan(t.Context())
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	want := Socket{Protocol: "tcp", Family: 4, Address: netip.IPv4Unspecified(), Port: ap.Port(), State: "listen"}
	if !slices.Contains(got, want) {
		t.Errorf("%d busy ports, none is the listener %+v", len(got), want)
	}
}

func TestBindScannerCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := NewBindScanner().Scan(ctx)
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("got %v, want context canceled", err)
	}
}
