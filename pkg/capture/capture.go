// Package capture reads network packets from capture files (pcap, pcapng) or
// from a live interface and decodes each frame into the few fields portwatch
// stores: layers, addresses, ports, TCP flags, DNS names and, when asked, the
// first payload bytes.
//
// Decoding uses gopacket's DecodingLayerParser over layers allocated once per
// Source, and strings (addresses, DNS names, layer lists) are cached, so the
// steady state allocates only for values not seen before. The file reader is
// the package's own: it streams pcap and pcapng in constant memory and
// tolerates what real files contain (caplen > snaplen, sub-second fields out
// of range, timestamps going backwards, FCS bits in the link-type field,
// unknown link types). A damaged file yields every frame before the damage,
// then a *FileError saying where.
//
// Protocols names, outermost first, joined by ':': eth, vlan (802.1Q and
// 802.1ad), sll, sll2, null (BSD loopback), chdlc, pppoe, ppp, mpls, ipv4,
// ipv6 (extension headers are part of it), gre, arp, tcp, udp, icmp, icmpv6,
// dns (port 53, UDP or TCP), mdns (UDP 5353), llmnr (UDP 5355). Raw-IP link
// types (101, 228, 229, and 12 and 14 as BSDs wrote them) start at ipv4 or
// ipv6. A frame on a link type the package does not decode gets Protocols
// "linktype<N>" and Malformed. Nothing is decoded past the first TCP or UDP
// header except DNS, so tunnels over UDP (VXLAN, Teredo, GTP) end at udp.
//
// DNS names are text: the root is "<Root>" (as tshark shows it) and bytes
// outside printable ASCII, and the backslash, are written \DDD, decimal, as
// in RFC 1035 master files. A DNS message over TCP is read from the start of a segment (2-byte
// length, then the message) and decoded as far as the segment goes; there
// is no stream reassembly.
//
// A TCP or UDP header cut short still gives its ports, and TCP flags when
// the flags byte is there (TCPFlags stays -1 otherwise); the frame is
// malformed and Protocols ends in tcp or udp.
//
// Ports and TCP flags are those of the outermost TCP or UDP header; tunnels
// without one (IP in IP, GRE) are decoded through, so their inner transport
// counts. SrcIP and DstIP come from the IP header that carries the transport
// (the innermost IP decoded). The first fragment of a fragmented IP datagram
// is decoded as far as its bytes go; later fragments stop at the IP layer.
package capture

import (
	"errors"
	"fmt"
	"portwatch/pkg/packet"
)

// Stats counts what a Source has seen so far.
type Stats struct {
	Frames    int64 // frames returned by Next
	Malformed int64 // frames only partly decoded
	Skipped   int64 // records that could not be read at all (not returned)
	Dropped   int64 // frames the kernel dropped (live capture only)
}

// Source yields decoded packets one at a time.
type Source interface {
	// Next returns the next packet; io.EOF at the end of a file; ErrTimeout
	// (live only) when no packet arrived within the read timeout; a
	// *FileError, after every good frame before it, when a file is damaged.
	// The *packet.Packet is reused by the next call.
	Next() (*packet.Packet, error)
	Stats() Stats
	Close() error
}

// Options tune file reading.
type Options struct {
	PayloadBytes int // keep the first N transport payload bytes; 0 keeps none
}

// ErrTimeout is returned by a live Source's Next when no packet arrived
// within the read timeout; the caller may call Next again.
var ErrTimeout = errors.New("capture: read timeout")

// ErrNotCapture is wrapped by OpenFile when a file is neither pcap nor pcapng.
var ErrNotCapture = errors.New("not a pcap or pcapng file")

// FileError reports a damaged capture file: the frames before Frame were
// returned; the damage starts at byte Offset.
type FileError struct {
	Path   string
	Offset int64 // byte offset of the damaged record or block
	Frame  int64 // 1-based number the damaged frame would have had
	Err    error
}

func (e *FileError) Error() string {
	return fmt.Sprintf("capture file %s damaged at byte %d (frame %d): %v", e.Path, e.Offset, e.Frame, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// PermissionError reports that live capture is not allowed for this process.
type PermissionError struct {
	Interface string
	Err       error
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("capture on %s not permitted (grant CAP_NET_RAW with `setcap cap_net_raw+ep bin/collect`, or run as root): %v", e.Interface, e.Err)
}

func (e *PermissionError) Unwrap() error { return e.Err }

// FilterError reports a BPF filter that libpcap could not compile.
type FilterError struct {
	Filter string
	Err    error
}

func (e *FilterError) Error() string {
	return fmt.Sprintf("invalid BPF filter %q: %v", e.Filter, e.Err)
}

func (e *FilterError) Unwrap() error { return e.Err }
