package portscan

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"portwatch/pkg/sock"
)

// entry is one row of a /proc/net socket table: the socket, and the inode that ties it to the
// process holding it (0 for sockets no process holds, such as time-wait).
type entry struct {
	sock.Socket
	inode uint64
}

// parseNet parses a /proc/net/{tcp,tcp6,udp,udp6} table, whose sockets are all of proto and family,
// and appends its rows to dst. Errors name the line.
func parseNet(r io.Reader, proto sock.Protocol, family int, dst []entry) ([]entry, error) {
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		first, _ := field(line)
		if len(first) == 0 || (n == 1 && string(first) == "sl") {
			continue // blank, or the column header
		}
		e, err := parseLine(line, proto, family)
		if err != nil {
			return dst, fmt.Errorf("line %d: %w", n, err)
		}
		dst = append(dst, e)
	}
	if err := sc.Err(); err != nil {
		return dst, fmt.Errorf("line %d: %w", n+1, err)
	}
	return dst, nil
}

// parseLine parses one socket row:
//
//	sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
//	0: 0100007F:8EF1 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 16313 ...
func parseLine(line []byte, proto sock.Protocol, family int) (entry, error) {
	var f [10][]byte
	rest := line
	for i := range f {
		f[i], rest = field(rest)
		if len(f[i]) == 0 {
			return entry{}, fmt.Errorf("%d fields, want at least %d", i, len(f))
		}
	}
	if f[0][len(f[0])-1] != ':' {
		return entry{}, fmt.Errorf("slot %q: want a number and a colon", f[0])
	}
	addr, port, err := parseAddrPort(f[1], family)
	if err != nil {
		return entry{}, fmt.Errorf("local address %q: %w", f[1], err)
	}
	st, ok := parseHex(f[3], 2)
	if !ok {
		return entry{}, fmt.Errorf("state %q: want 2 hex digits", f[3])
	}
	inode, ok := parseDec(f[9])
	if !ok {
		return entry{}, fmt.Errorf("inode %q: want a decimal number", f[9])
	}
	return newEntry(proto, family, addr, uint16(port), uint8(st), inode), nil
}

// newEntry makes the entry for a socket decoded from either of the kernel's formats.
func newEntry(proto sock.Protocol, family int, addr netip.Addr, port uint16, st uint8, inode uint64) entry {
	return entry{
		Socket: sock.Socket{Protocol: proto, Family: family, Address: addr, Port: port, State: sock.KernelState(proto, st)},
		inode:  inode,
	}
}

// parseAddrPort decodes "0100007F:8EF1". The kernel prints the address as 32-bit words in host byte
// order (one word for IPv4, four for IPv6), each as %08X, and the port in network order as %04X.
func parseAddrPort(b []byte, family int) (netip.Addr, uint64, error) {
	words := 1
	if family == 6 {
		words = 4
	}
	if len(b) != words*8+1+4 || b[words*8] != ':' {
		return netip.Addr{}, 0, fmt.Errorf("want %d hex digits, a colon and 4 hex digits", words*8)
	}
	var ip [16]byte
	for i := range words {
		w, ok := parseHex(b[i*8:i*8+8], 8)
		if !ok {
			return netip.Addr{}, 0, errNotHex
		}
		binary.NativeEndian.PutUint32(ip[i*4:], uint32(w))
	}
	port, ok := parseHex(b[words*8+1:], 4)
	if !ok {
		return netip.Addr{}, 0, errNotHex
	}
	if family == 4 {
		return netip.AddrFrom4([4]byte(ip[:4])), port, nil
	}
	return netip.AddrFrom16(ip), port, nil
}

var errNotHex = errors.New("not hex")

// field returns the first space-separated field of b and what follows it.
func field(b []byte) (f, rest []byte) {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	j := i
	for j < len(b) && b[j] != ' ' {
		j++
	}
	return b[i:j], b[j:]
}

// parseHex parses exactly digits hex digits, either case; strconv would need a string per field.
func parseHex(b []byte, digits int) (uint64, bool) {
	if len(b) != digits {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(c)
	}
	return v, true
}

// parseDec parses a decimal uint64 as the kernel prints it: digits only, no leading zero.
func parseDec(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}
