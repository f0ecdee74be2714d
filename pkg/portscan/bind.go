package portscan

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"portwatch/pkg/sock"
	"syscall"
)

// BindScanner is the old tool's method, for systems without /proc: for every port in [First, Last]
// it tries to bind a fresh TCP and a fresh UDP socket to the IPv4 and the IPv6 wildcard address,
// closes it at once, and reports the ports where bind fails with EADDRINUSE as tcp "listen" or
// udp "unconn" on 0.0.0.0 or ::.
//
// Caveats, all inherent to the method:
//   - slow: four socket+bind+close per port, seconds for the full range;
//   - blind: it sees neither state nor owner nor the real local address, and a port held by a
//     connection or a time-wait socket looks the same as a listener; a dual-stack IPv6 socket shows
//     in both families;
//   - it races with real services: while a probe holds a port (microseconds) a service starting on
//     it fails to bind, so the scan can briefly steal a port;
//   - ports below 1024 cannot be bound without CAP_NET_BIND_SERVICE; EACCES and other failures are
//     taken as not known, never as occupied.
//
// Probes leave SO_REUSEADDR off (the default for a new socket), so any socket bound to the port
// makes bind fail, and set IPV6_V6ONLY so IPv6 probes do not collide with IPv4 sockets.
type BindScanner struct {
	First, Last uint16 // ports probed, inclusive
}

var _ Scanner = (*BindScanner)(nil)

// NewBindScanner returns a scanner of every port, 1..65535.
func NewBindScanner() *BindScanner {
	return &BindScanner{First: 1, Last: 65535}
}

// Scan probes every port in range, returning the busy ones by protocol, family and port. A family
// the host does not support (IPv6 disabled) is skipped.
func (b *BindScanner) Scan(ctx context.Context) ([]sock.Socket, error) {
	probes := [...]struct {
		proto       sock.Protocol
		state       sock.State
		typ, family int
	}{
		{sock.TCP, sock.Listen, syscall.SOCK_STREAM, 4},
		{sock.TCP, sock.Listen, syscall.SOCK_STREAM, 6},
		{sock.UDP, sock.Unconn, syscall.SOCK_DGRAM, 4},
		{sock.UDP, sock.Unconn, syscall.SOCK_DGRAM, 6},
	}
	var socks []sock.Socket
	for _, p := range probes {
		addr := netip.IPv4Unspecified()
		if p.family == 6 {
			addr = netip.IPv6Unspecified()
		}
		for port := int(b.First); port <= int(b.Last); port++ {
			if port%256 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, fmt.Errorf("bind scan: %w", err)
				}
			}
			busy, err := probeBind(p.typ, p.family, port)
			if errors.Is(err, syscall.EAFNOSUPPORT) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("bind scan %s%d port %d: %w", p.proto, p.family, port, err)
			}
			if busy {
				socks = append(socks, sock.Socket{Protocol: p.proto, Family: p.family, Address: addr, Port: uint16(port), State: p.state})
			}
		}
	}
	return socks, nil
}

// probeBind binds a new socket of type typ to the wildcard address of family on port and closes it.
// It reports whether the port is in use; err is set only when no socket could be made.
func probeBind(typ, family, port int) (busy bool, err error) {
	domain := syscall.AF_INET
	var sa syscall.Sockaddr = &syscall.SockaddrInet4{Port: port}
	if family == 6 {
		domain = syscall.AF_INET6
		sa = &syscall.SockaddrInet6{Port: port}
	}
	// No SOCK_CLOEXEC: not every system has it, and the fd lives for microseconds.
	fd, err := syscall.Socket(domain, typ, 0)
	if err != nil {
		return false, fmt.Errorf("socket: %w", err)
	}
	defer syscall.Close(fd)
	if family == 6 {
		if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 1); err != nil {
			return false, fmt.Errorf("set IPV6_V6ONLY: %w", err)
		}
	}
	return errors.Is(syscall.Bind(fd, sa), syscall.EADDRINUSE), nil
}
