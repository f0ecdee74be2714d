// Package sock is the one record of a local socket in use that the scanner
// finds, the store keeps as a rounds_ports row and features reads back:
// Socket, with its Protocol and State as small typed values. It is a leaf
// (standard library only), so the store and the scanner share it without
// importing each other.
//
// Protocol and State are stored in SQLite as the text their String returns
// (tcp, udp; ss's state names), and Parse* read that text back.
package sock

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Socket is one local socket: a port in use.
type Socket struct {
	Protocol Protocol
	Family   int        // 4 or 6; IPv4-mapped IPv6 addresses stay 6
	Address  netip.Addr // local address
	Port     uint16
	State    State
	PID      int    // owning process, 0 when unknown
	Process  string // its name (comm), "" when unknown
	Netns    Netns  // the network namespace it lives in; zero from scanners that see only their own
}

// Netns is a network namespace, as a socket's home.
type Netns struct {
	Inode uint64 // as lsns and readlink /proc/PID/ns/net show it: net:[Inode]
	Host  bool   // the host's own namespace
	// Name is the `ip netns` name from /run/netns, or a container told from its processes' cgroup
	// ("docker:0123456789ab", "k8s/containerd:0123456789ab", "systemd:foo.service"); "" when unknown.
	Name string
}

// Foreign reports whether the namespace is known and not the host's own: a container's, a pod's,
// an `ip netns` one. A namespace not told (Inode 0) is the scanner's own, taken as the host's.
func (n Netns) Foreign() bool { return n.Inode != 0 && !n.Host }

// String gives the namespace as the kernel prints its link: net:[4026531840].
func (n Netns) String() string {
	return "net:[" + strconv.FormatUint(n.Inode, 10) + "]"
}

// Protocol is a socket's transport protocol.
type Protocol uint8

// The transport protocols portwatch scans.
const (
	TCP Protocol = iota + 1
	UDP
)

func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return fmt.Sprintf("protocol(%d)", uint8(p))
}

// ParseProtocol reads a protocol's String.
func ParseProtocol(s string) (Protocol, error) {
	switch s {
	case "tcp":
		return TCP, nil
	case "udp":
		return UDP, nil
	}
	return 0, fmt.Errorf("unknown protocol %q (want tcp or udp)", s)
}

// State is a socket's state as ss names it, lower case.
type State uint8

// Socket states: the kernel's TCP states (include/net/tcp_states.h) in its
// order, then Unconn, what ss calls a UDP socket that is not connected
// (the kernel's close state), and Unknown for a state a newer kernel added.
const (
	Unknown State = iota
	Established
	SynSent
	SynRecv
	FinWait1
	FinWait2
	TimeWait
	Close
	CloseWait
	LastAck
	Listen
	Closing
	NewSynRecv
	Unconn
)

var stateNames = [...]string{
	Unknown: "unknown", Established: "established", SynSent: "syn-sent", SynRecv: "syn-recv",
	FinWait1: "fin-wait-1", FinWait2: "fin-wait-2", TimeWait: "time-wait", Close: "close",
	CloseWait: "close-wait", LastAck: "last-ack", Listen: "listen", Closing: "closing",
	NewSynRecv: "new-syn-recv", Unconn: "unconn",
}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// ParseState reads a state's String.
func ParseState(s string) (State, error) {
	for st, name := range stateNames {
		if name == s {
			return State(st), nil
		}
	}
	return 0, fmt.Errorf("unknown socket state %q", s)
}

// KernelState gives the state of a kernel socket state number, as ss names
// it for proto: the kernel's close state is unconn for UDP. A number a newer
// kernel added is Unknown: the socket is still in use, so a scan keeps it.
func KernelState(proto Protocol, st uint8) State {
	switch {
	case st == uint8(Close) && proto == UDP:
		return Unconn
	case st >= uint8(Established) && st <= uint8(NewSynRecv):
		return State(st)
	}
	return Unknown
}

// ParseAddr reads a local address as stored or as ss prints it: brackets
// around IPv6 are dropped, and "*" is the wildcard address of family.
func ParseAddr(s string, family int) (netip.Addr, error) {
	if s == "*" {
		if family == 6 {
			return netip.IPv6Unspecified(), nil
		}
		return netip.IPv4Unspecified(), nil
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("local address %q: %w", s, err)
	}
	return a, nil
}
