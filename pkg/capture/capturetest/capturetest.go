// Package capturetest builds small capture files in tests, so that the tests
// of capture, collect and the programs run without the shared captures
// beside the repository.
//
// Frames are Ethernet frames serialised by gopacket/layers with lengths and
// checksums computed (Ethernet, IPv4 or IPv6 by the form of the address,
// TCP, UDP, DNS, ICMP and ICMPv6); Write and WriteNg put them in a pcap or
// pcapng file with gopacket's pcapgo writers. A frame cut short (Cut) and a
// file cut short (CutFile) give the damaged inputs. Shared returns the path
// of a capture in ../shared/pcaps, or skips the test naming it.
package capturetest

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Frame is one captured Ethernet frame.
type Frame struct {
	Time time.Time
	Data []byte // the bytes captured
	Wire int    // length on the wire; 0 means len(Data)
}

// Len is the frame's length on the wire.
func (f Frame) Len() int {
	if f.Wire == 0 {
		return len(f.Data)
	}
	return f.Wire
}

func (f Frame) info() gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: f.Time, CaptureLength: len(f.Data), Length: f.Len()}
}

// Snaplen is the snapshot length the files are written with.
const Snaplen = 65535

// Pcap returns frames as a pcap file (microsecond times, Ethernet).
func Pcap(t testing.TB, frames ...Frame) []byte {
	t.Helper()
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	if err := w.WriteFileHeader(Snaplen, layers.LinkTypeEthernet); err != nil {
		t.Fatalf("write pcap header: %v", err)
	}
	for i, f := range frames {
		if err := w.WritePacket(f.info(), f.Data); err != nil {
			t.Fatalf("write pcap frame %d: %v", i+1, err)
		}
	}
	return b.Bytes()
}

// Pcapng returns frames as a pcapng file with one Ethernet interface.
func Pcapng(t testing.TB, frames ...Frame) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := pcapgo.NewNgWriter(&b, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatalf("write pcapng header: %v", err)
	}
	for i, f := range frames {
		if err := w.WritePacket(f.info(), f.Data); err != nil {
			t.Fatalf("write pcapng frame %d: %v", i+1, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("write pcapng: %v", err)
	}
	return b.Bytes()
}

// Write writes frames to a new pcap file at path.
func Write(t testing.TB, path string, frames ...Frame) {
	t.Helper()
	writeFile(t, path, Pcap(t, frames...))
}

// WriteNg writes frames to a new pcapng file at path.
func WriteNg(t testing.TB, path string, frames ...Frame) {
	t.Helper()
	writeFile(t, path, Pcapng(t, frames...))
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	// Readable by all: tests run the programs as other users on them.
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Temp writes frames as a pcap file named name in a new temp directory and
// returns its path.
func Temp(t testing.TB, name string, frames ...Frame) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	Write(t, path, frames...)
	return path
}

// RecordOffset is the byte offset of frame i's record (0-based) in the pcap
// file Write makes of frames; i = len(frames) gives the file's length.
func RecordOffset(frames []Frame, i int) int64 {
	off := int64(24) // file header
	for _, f := range frames[:i] {
		off += 16 + int64(len(f.Data))
	}
	return off
}

// CutFile writes the first n bytes of the file at path to a new temp file
// named "cut-" + its base name and returns the new path.
func CutFile(t testing.TB, path string, n int64) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n > int64(len(b)) {
		t.Fatalf("cut %s at %d: the file has %d bytes", path, n, len(b))
	}
	cut := filepath.Join(t.TempDir(), "cut-"+filepath.Base(path))
	writeFile(t, cut, b[:n])
	return cut
}

// Cut keeps the first n bytes of f, as a capture with a short snaplen or a
// damaged frame would: the wire length stays the frame's.
func Cut(f Frame, n int) Frame {
	return Frame{Time: f.Time, Data: f.Data[:n], Wire: len(f.Data)}
}

// Shared returns the path of file in the shared captures, relative to a
// package directory two levels below the repository root (pkg/x, cmd/x), or
// skips the test saying which file is missing: those tests are the
// real-data layer, the generated captures cover the rest.
func Shared(t testing.TB, file string) string {
	t.Helper()
	return SharedAt(t, SharedDir, file)
}

// SharedDir is where the shared captures are from a package directory two
// levels below the repository root.
const SharedDir = "../../../shared/pcaps"

// SharedAt is Shared for a package at another depth: dir is the shared
// captures' directory relative to the package.
func SharedAt(t testing.TB, dir, file string) string {
	t.Helper()
	path := filepath.Join(dir, file)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("real-data test, shared capture missing: %v", err) // the error names the path
	}
	return path
}

// Endpoints of a frame: addresses in text form (IPv4 or IPv6, both the
// same family) and, for TCP and UDP, ports.
type Endpoints struct {
	Src, Dst         string
	SrcPort, DstPort uint16
}

// Reply is the same conversation in the other direction.
func (e Endpoints) Reply() Endpoints {
	return Endpoints{Src: e.Dst, Dst: e.Src, SrcPort: e.DstPort, DstPort: e.SrcPort}
}

// TCP flags, for TCP frames.
const (
	FIN = 1 << iota
	SYN
	RST
	PSH
	ACK
)

// TCP builds a TCP segment with the given flags and payload.
func TCP(t testing.TB, at time.Time, e Endpoints, flags int, payload []byte) Frame {
	t.Helper()
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(e.SrcPort), DstPort: layers.TCPPort(e.DstPort),
		Seq: 1000, Window: 64240,
		FIN: flags&FIN != 0, SYN: flags&SYN != 0, RST: flags&RST != 0, PSH: flags&PSH != 0, ACK: flags&ACK != 0,
	}
	if tcp.ACK {
		tcp.Ack = 2000
	}
	return ip(t, at, e, layers.IPProtocolTCP, tcp, gopacket.Payload(payload))
}

// UDP builds a UDP datagram.
func UDP(t testing.TB, at time.Time, e Endpoints, payload []byte) Frame {
	t.Helper()
	udp := &layers.UDP{SrcPort: layers.UDPPort(e.SrcPort), DstPort: layers.UDPPort(e.DstPort)}
	return ip(t, at, e, layers.IPProtocolUDP, udp, gopacket.Payload(payload))
}

// DNS builds a DNS message over UDP; Query and Response make the message.
func DNS(t testing.TB, at time.Time, e Endpoints, msg *layers.DNS) Frame {
	t.Helper()
	udp := &layers.UDP{SrcPort: layers.UDPPort(e.SrcPort), DstPort: layers.UDPPort(e.DstPort)}
	return ip(t, at, e, layers.IPProtocolUDP, udp, msg)
}

// Query is a recursive DNS query for name's A records.
func Query(id uint16, name string) *layers.DNS {
	return &layers.DNS{ID: id, RD: true, OpCode: layers.DNSOpCodeQuery,
		Questions: []layers.DNSQuestion{{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN}}}
}

// Response answers Query(id, name): a CNAME from name to each of cnames in
// turn, then an A record for each address, owned by the last name.
func Response(id uint16, name string, cnames []string, addrs ...string) *layers.DNS {
	m := Query(id, name)
	m.QR, m.RA = true, true
	owner := name
	for _, c := range cnames {
		m.Answers = append(m.Answers, layers.DNSResourceRecord{Name: []byte(owner), Type: layers.DNSTypeCNAME,
			Class: layers.DNSClassIN, TTL: 300, CNAME: []byte(c)})
		owner = c
	}
	for _, a := range addrs {
		m.Answers = append(m.Answers, layers.DNSResourceRecord{Name: []byte(owner), Type: layers.DNSTypeA,
			Class: layers.DNSClassIN, TTL: 300, IP: net.ParseIP(a).To4()})
	}
	return m
}

// Echo builds an ICMP echo request (ICMPv6 for IPv6 addresses); ports are not used.
func Echo(t testing.TB, at time.Time, e Endpoints, id, seq uint16) Frame {
	t.Helper()
	if net.ParseIP(e.Src).To4() == nil {
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
		echo := &layers.ICMPv6Echo{Identifier: id, SeqNumber: seq}
		return ip(t, at, e, layers.IPProtocolICMPv6, icmp, echo, gopacket.Payload("ping"))
	}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: id, Seq: seq}
	return ip(t, at, e, layers.IPProtocolICMPv4, icmp, gopacket.Payload("ping"))
}

// Unreachable builds an ICMP port unreachable from e.Src to e.Dst (ports not used).
func Unreachable(t testing.TB, at time.Time, e Endpoints) Frame {
	t.Helper()
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodePort)}
	return ip(t, at, e, layers.IPProtocolICMPv4, icmp, gopacket.Payload("orig"))
}

// ARP builds an ARP request: a frame with no IP layer.
func ARP(t testing.TB, at time.Time, sender, target string) Frame {
	t.Helper()
	arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: layers.ARPRequest, SourceHwAddress: srcMAC, SourceProtAddress: net.ParseIP(sender).To4(),
		DstHwAddress: make(net.HardwareAddr, 6), DstProtAddress: net.ParseIP(target).To4()}
	eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EthernetType: layers.EthernetTypeARP}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, eth, arp); err != nil {
		t.Fatalf("serialise ARP %s > %s: %v", sender, target, err)
	}
	return Frame{Time: at, Data: bytes.Clone(buf.Bytes())}
}

// SYNScan is a SYN scan from scanner to target's ports, one probe every
// step from start: each SYN is answered by SYN+ACK from the ports in open
// and RST+ACK from the rest.
func SYNScan(t testing.TB, start time.Time, step time.Duration, scanner, target string, ports []uint16, open ...uint16) []Frame {
	t.Helper()
	var frames []Frame
	at := start
	for _, p := range ports {
		probe := Endpoints{Src: scanner, Dst: target, SrcPort: 40000, DstPort: p}
		frames = append(frames, TCP(t, at, probe, SYN, nil))
		reply := RST | ACK
		for _, o := range open {
			if o == p {
				reply = SYN | ACK
			}
		}
		frames = append(frames, TCP(t, at.Add(step/2), probe.Reply(), reply, nil))
		at = at.Add(step)
	}
	return frames
}

// Ports returns n ports from first on.
func Ports(first uint16, n int) []uint16 {
	ports := make([]uint16, n)
	for i := range ports {
		ports[i] = first + uint16(i)
	}
	return ports
}

var (
	srcMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	dstMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
)

// ip serialises Ethernet, the IP header for e's addresses and the layers
// above, with lengths and checksums computed.
func ip(t testing.TB, at time.Time, e Endpoints, proto layers.IPProtocol, above ...gopacket.SerializableLayer) Frame {
	t.Helper()
	src, dst := net.ParseIP(e.Src), net.ParseIP(e.Dst)
	if src == nil || dst == nil || (src.To4() == nil) != (dst.To4() == nil) {
		t.Fatalf("endpoints %s > %s: want two addresses of one family", e.Src, e.Dst)
	}
	eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4}
	var network gopacket.NetworkLayer
	var ipLayer gopacket.SerializableLayer
	if src.To4() != nil {
		v4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: src.To4(), DstIP: dst.To4()}
		network, ipLayer = v4, v4
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		v6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src, DstIP: dst}
		network, ipLayer = v6, v6
	}
	for _, l := range above {
		// TCP, UDP and ICMPv6 checksums cover a pseudo-header of the IP layer.
		if c, ok := l.(interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}); ok {
			if err := c.SetNetworkLayerForChecksum(network); err != nil {
				t.Fatal(err)
			}
		}
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, append([]gopacket.SerializableLayer{eth, ipLayer}, above...)...); err != nil {
		t.Fatalf("serialise frame %s > %s: %v", e.Src, e.Dst, err)
	}
	return Frame{Time: at, Data: bytes.Clone(buf.Bytes())}
}

// Start is when Mixed's capture begins: years ago, as the real captures
// are, so that cleanup counts their rounds stale.
var Start = time.Date(2021, 3, 4, 10, 0, 0, 0, time.UTC)

// Mixed is a small capture with one frame of each kind the decoder knows
// best, over 4.7 s from Start: DNS query and response (a CNAME, two A
// records) over IPv4, a TCP handshake and request over IPv6, UDP, ICMP and
// ICMPv6 echoes, a frame cut inside its TCP header, a frame whose time goes
// back, and a SYN scan of ports 20..23 with 22 open: 18 frames.
func Mixed(t testing.TB) []Frame {
	t.Helper()
	at := func(ms int) time.Time { return Start.Add(time.Duration(ms) * time.Millisecond) }
	dns := Endpoints{Src: "10.0.0.2", Dst: "10.0.0.1", SrcPort: 53001, DstPort: 53}
	web := Endpoints{Src: "2001:db8::2", Dst: "2001:db8::1", SrcPort: 50000, DstPort: 443}
	udp := Endpoints{Src: "10.0.0.2", Dst: "10.0.0.9", SrcPort: 40001, DstPort: 5000}
	frames := []Frame{
		DNS(t, at(0), dns, Query(0x1234, "www.example.com")),
		DNS(t, at(10), dns.Reply(), Response(0x1234, "www.example.com", []string{"web.example.net"}, "192.0.2.10", "192.0.2.11")),
		TCP(t, at(1000), web, SYN, nil),
		TCP(t, at(1010), web.Reply(), SYN|ACK, nil),
		TCP(t, at(1020), web, PSH|ACK, []byte("GET / HTTP/1.1\r\n\r\n")),
		UDP(t, at(1500), udp, []byte("hello, world")),
		Echo(t, at(2000), Endpoints{Src: "10.0.0.2", Dst: "10.0.0.1"}, 7, 1),
		Echo(t, at(2500), Endpoints{Src: "2001:db8::2", Dst: "2001:db8::1"}, 7, 2),
		// Ethernet, IPv4 and 10 bytes of TCP header: ports but no flags.
		Cut(TCP(t, at(3000), Endpoints{Src: "10.0.0.2", Dst: "10.0.0.3", SrcPort: 50001, DstPort: 80}, ACK, []byte("lost")), 14+20+10),
		UDP(t, at(500), udp, []byte("late")),
	}
	return append(frames, SYNScan(t, at(4000), 200*time.Millisecond, "198.51.100.7", "10.0.0.2", Ports(20, 4), 22)...)
}

// Scan is a SYN scan of ports 1..n from 198.51.100.7 to 10.0.0.2, one probe
// every 10 ms from Start, ports 22 and 80 open: 2n frames over n/100 s.
func Scan(t testing.TB, n int) []Frame {
	t.Helper()
	return SYNScan(t, Start, 10*time.Millisecond, "198.51.100.7", "10.0.0.2", Ports(1, n), 22, 80)
}

// CPUTime is the user and system time this process has used. Benchmarks
// report it beside wall time: on a shared machine the wall time mostly
// measures the other processes.
func CPUTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
