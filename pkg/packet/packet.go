// Package packet is the one record of a captured frame: what capture
// decodes and the store keeps as a packets row. It is a leaf (standard
// library only), so the store holds packets without importing gopacket and
// a frame goes from decoder to INSERT without being copied.
package packet

import "time"

// Packet is one decoded frame. Strings are empty and numbers zero where the
// frame has no such field; the store keeps empty strings, TCPFlags -1 and a
// nil Payload as NULL.
type Packet struct {
	Frame        int64     // 1-based frame number in the file or capture
	Time         time.Time // capture time
	Length       int       // length on the wire
	Protocols    string    // decoded layers outermost first: "eth:ipv4:udp:dns"
	Malformed    bool      // only partly decoded (the layers that decoded are kept); counted per round, not stored per row
	SrcIP, DstIP string    // "" when no IP layer
	SrcPort      uint16    // 0 when the frame has none
	DstPort      uint16    // 0 when the frame has none
	TCPFlags     int       // FIN=1 SYN=2 RST=4 PSH=8 ACK=16 URG=32 ECE=64 CWR=128 NS=256; -1 without TCP
	QryName      string    // first DNS question's name
	RespName     string    // answer records' names, comma-separated, in order
	DNSType      uint16    // first DNS question's type (1 A, 10 NULL, 16 TXT, ...); 0 without one
	DNSRcode     uint8     // DNS response code (3 NXDOMAIN); 0 without DNS
	DNSResponse  bool      // the DNS message is a response (QR bit)
	ICMPType     int       // ICMP or ICMPv6 type (3, and 1 for ICMPv6, are destination unreachable); -1 without ICMP
	ICMPv6       bool      // ICMPType is an ICMPv6 type
	Payload      []byte    // first payload bytes, nil unless asked; the source reuses it, the store copies it
}
