package portscan

import (
	"context"
	"net/netip"
)

// Socket is one local socket: a port in use.
type Socket struct {
	Protocol string     // "tcp" or "udp"
	Family   int        // 4 or 6; IPv4-mapped IPv6 addresses stay 6
	Address  netip.Addr // local address
	Port     uint16
	// State as ss names it, lower case: listen, established, syn-sent, syn-recv, fin-wait-1,
	// fin-wait-2, time-wait, close, close-wait, last-ack, closing, new-syn-recv;
	// for UDP unconn or established.
	State   string
	PID     int    // owning process, 0 when unknown
	Process string // its name (comm), "" when unknown
	Netns   Netns  // the network namespace it lives in; zero from scanners that see only their own
}

// Scanner lists the local sockets in use on the host.
type Scanner interface {
	Scan(ctx context.Context) ([]Socket, error)
}

// stateName gives the ss name of a kernel socket state (include/net/tcp_states.h).
func stateName(proto string, st uint8) string {
	switch st {
	case 0x01:
		return "established"
	case 0x02:
		return "syn-sent"
	case 0x03:
		return "syn-recv"
	case 0x04:
		return "fin-wait-1"
	case 0x05:
		return "fin-wait-2"
	case 0x06:
		return "time-wait"
	case 0x07:
		if proto == "udp" {
			return "unconn"
		}
		return "close"
	case 0x08:
		return "close-wait"
	case 0x09:
		return "last-ack"
	case 0x0A:
		return "listen"
	case 0x0B:
		return "closing"
	case 0x0C:
		return "new-syn-recv"
	}
	// A state a newer kernel added; the socket is still in use, so keep it rather than fail the scan.
	return "unknown"
}
