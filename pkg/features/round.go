package features

import "time"

// Socket is one local socket a round saw: a rounds_ports row.
type Socket struct {
	Port     uint16
	Protocol string // tcp or udp
	Family   int    // 4 or 6
	Address  string // local address: 0.0.0.0, 127.0.0.1, ::, ...
	State    string // as ss names it: listen, established, unconn, ...
	PID      int    // 0 when unknown
	Process  string // "" when unknown
}

// PortCount is a count of packets to one port.
type PortCount struct {
	Port uint16
	N    int
}

// Round is one complete collection round.
type Round struct {
	ID      int64
	Start   time.Time
	Sockets []Socket    // ordered by port, protocol, family, address, state
	SYN     []PortCount // SYNs to each port, ordered by port; nil unless loaded
}
