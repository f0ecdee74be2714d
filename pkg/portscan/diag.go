package portscan

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"portwatch/pkg/sock"
	"syscall"
)

// Netlink sock_diag wire format (linux/netlink.h, linux/sock_diag.h, linux/inet_diag.h), spelled
// out here because the syscall package has only part of it and only on Linux.
const (
	nlmsgHdrLen      = 16 // struct nlmsghdr
	nlmsgError       = 2
	nlmsgDone        = 3
	nlmFRequestDump  = 0x301 // NLM_F_REQUEST | NLM_F_DUMP
	sockDiagByFamily = 20
	tcpDiagGetSock   = 18 // the original inet_diag request, TCP only
	inetDiagReqLen   = 56 // struct inet_diag_req_v2
	inetDiagReqV1Len = 60 // struct inet_diag_req
	inetDiagMsgLen   = 72 // struct inet_diag_msg
	linuxAFInet      = 2
	linuxAFInet6     = 10
)

// diagRequest builds a SOCK_DIAG_BY_FAMILY dump request for every socket of proto ("tcp" or "udp")
// and family (4 or 6), in all states. Family 0 with TCP is the original TCPDIAG_GETSOCK request,
// whose dump the kernel answers for both families in one walk of its hash tables: a walk costs
// about a millisecond whatever the number of sockets (the tables are sized to the RAM), and
// SOCK_DIAG_BY_FAMILY takes one walk per family.
func diagRequest(proto sock.Protocol, family int) []byte {
	if family == 0 && proto == sock.TCP {
		b := make([]byte, nlmsgHdrLen+inetDiagReqV1Len)
		putDiagHeader(b, tcpDiagGetSock)
		binary.NativeEndian.PutUint32(b[nlmsgHdrLen+52:], 0xFFFFFFFF) // idiag_states, after the socket id: all
		return b
	}
	b := make([]byte, nlmsgHdrLen+inetDiagReqLen)
	putDiagHeader(b, sockDiagByFamily)
	req := b[nlmsgHdrLen:]
	req[0] = linuxAFInet
	if family == 6 {
		req[0] = linuxAFInet6
	}
	req[1] = syscall.IPPROTO_TCP
	if proto == sock.UDP {
		req[1] = syscall.IPPROTO_UDP
	}
	binary.NativeEndian.PutUint32(req[4:], 0xFFFFFFFF) // idiag_states: all
	return b
}

// putDiagHeader writes the netlink header of a dump request of type typ filling all of b.
func putDiagHeader(b []byte, typ uint16) {
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint16(b[6:], nlmFRequestDump)
	binary.NativeEndian.PutUint32(b[8:], 1) // sequence number; one request per socket
}

// parseDiag parses netlink messages answering a sock_diag dump of proto sockets and appends the
// sockets to dst. done reports the end of the dump; a netlink error reply is returned as an error
// wrapping its syscall.Errno. Errors name the byte offset of the bad message.
func parseDiag(b []byte, proto sock.Protocol, dst []entry) (_ []entry, done bool, err error) {
	for off := 0; off < len(b); {
		if len(b)-off < nlmsgHdrLen {
			return dst, false, fmt.Errorf("byte %d: %d bytes left, want a %d-byte netlink header", off, len(b)-off, nlmsgHdrLen)
		}
		n := binary.NativeEndian.Uint32(b[off:])
		if n < nlmsgHdrLen || n > uint32(len(b)-off) {
			return dst, false, fmt.Errorf("byte %d: message length %d, want %d to %d", off, n, nlmsgHdrLen, len(b)-off)
		}
		msg := b[off+nlmsgHdrLen : off+int(n)]
		switch typ := binary.NativeEndian.Uint16(b[off+4:]); typ {
		case nlmsgDone:
			return dst, true, nil
		case nlmsgError:
			if len(msg) < 4 {
				return dst, false, fmt.Errorf("byte %d: error message of %d bytes, want at least 4", off, len(msg))
			}
			code := int32(binary.NativeEndian.Uint32(msg))
			if code >= 0 {
				return dst, false, fmt.Errorf("byte %d: error message with code %d, want a negative errno", off, code)
			}
			return dst, false, fmt.Errorf("sock_diag: %w", syscall.Errno(-code))
		case sockDiagByFamily, tcpDiagGetSock: // a reply has its request's type
			e, err := parseDiagMsg(msg, proto)
			if err != nil {
				return dst, false, fmt.Errorf("byte %d: %w", off, err)
			}
			dst = append(dst, e)
		default:
			return dst, false, fmt.Errorf("byte %d: netlink message type %d, want %d", off, typ, sockDiagByFamily)
		}
		off += int(n+3) &^ 3 // messages are 4-byte aligned
	}
	return dst, false, nil
}

// parseDiagMsg parses a struct inet_diag_msg: family, state, timer, retrans, then the socket id
// (ports and addresses in network order), then expires, queues, uid and inode in host order.
func parseDiagMsg(m []byte, proto sock.Protocol) (entry, error) {
	if len(m) < inetDiagMsgLen {
		return entry{}, fmt.Errorf("inet_diag_msg of %d bytes, want %d", len(m), inetDiagMsgLen)
	}
	var addr netip.Addr
	family := 4
	switch m[0] {
	case linuxAFInet:
		addr = netip.AddrFrom4([4]byte(m[8:12]))
	case linuxAFInet6:
		addr = netip.AddrFrom16([16]byte(m[8:24]))
		family = 6
	default:
		return entry{}, fmt.Errorf("address family %d, want %d or %d", m[0], linuxAFInet, linuxAFInet6)
	}
	return newEntry(proto, family, addr, binary.BigEndian.Uint16(m[4:]), m[1], uint64(binary.NativeEndian.Uint32(m[68:]))), nil
}
