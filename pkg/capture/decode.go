package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"portwatch/pkg/packet"
	"strconv"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Link types decoded here (LINKTYPE_* values as stored in files).
const (
	linkNull     = 0
	linkEthernet = 1
	linkPPP      = 9
	linkRawBSD   = 12 // DLT_RAW on most BSDs, seen in files written there
	linkRawOBSD  = 14 // DLT_RAW on OpenBSD
	linkRaw      = 101
	linkCHDLC    = 104
	linkLoop     = 108
	linkSLL      = 113
	linkIPv4     = 228
	linkIPv6     = 229
	linkSLL2     = 276
)

// maxRounds bounds how often decoding resumes past an IP fragment header,
// so a crafted chain of headers cannot loop.
const maxRounds = 4

// internLimit bounds each string cache; it is emptied when full.
// internMaxLen is the longest string cached.
const (
	internLimit  = 1 << 14
	internMaxLen = 256
)

// maxLayers bounds the layers kept per frame: a crafted frame of nothing
// but VLAN tags would otherwise give a Protocols string as long as itself.
const maxLayers = 32

// decoder turns frame bytes into Packet fields. It owns one instance of each
// layer, reused for every frame, and caches the strings it hands out so the
// steady state does not allocate.
type decoder struct {
	eth   layers.Ethernet
	dot1q layers.Dot1Q
	sll   sllLayer
	sll2  layers.LinuxSLL2
	loop  layers.Loopback
	pppoe pppoeLayer
	ppp   pppLayer
	mpls  mplsLayer
	ip4   ip4Layer
	ip6   ip6Layer
	ext   layers.IPv6ExtensionSkipper
	gre   layers.GRE
	arp   layers.ARP
	tcp   layers.TCP
	udp   layers.UDP
	icmp4 layers.ICMPv4
	icmp6 layers.ICMPv6
	dns   layers.DNS

	dnsParser *gopacket.DecodingLayerParser
	container gopacket.DecodingLayerContainer
	parsers   []*gopacket.DecodingLayerParser // by first layer type
	decoded   []gopacket.LayerType            // one parser run
	layers    []gopacket.LayerType            // the whole frame
	payload   int                             // Options.PayloadBytes
	payBuf    []byte
	nameBuf   []byte
	cut       gopacket.LayerType // TCP or UDP when its header failed to decode
	cutData   []byte             // the bytes it had

	strs          map[string]string // DNS names and protocol lists
	ip4s          map[uint32]string // IPv4 addresses
	ip6s          map[string]string // IPv6 addresses, keyed by their 16 bytes
	lastProtocols string
	link          map[uint32]string // names of link types not decoded
}

func newDecoder(payloadBytes int) *decoder {
	d := &decoder{
		payload: max(payloadBytes, 0),
		decoded: make([]gopacket.LayerType, 0, 16),
		layers:  make([]gopacket.LayerType, 0, 16),
		strs:    make(map[string]string),
		ip4s:    make(map[uint32]string),
		ip6s:    make(map[string]string),
		link:    make(map[uint32]string),
	}
	c := gopacket.DecodingLayerContainer(gopacket.DecodingLayerSparse(nil))
	for _, l := range []gopacket.DecodingLayer{&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.loop, &d.pppoe, &d.ppp, &d.mpls,
		&d.ip4, &d.ip6, &d.ext, &d.gre, &d.arp, &d.tcp, &d.udp, &d.icmp4, &d.icmp6} {
		c = c.Put(l)
	}
	// A fragment header ends the run: decoding resumes only for first
	// fragments, which the skipper cannot tell apart.
	sparse := c.(gopacket.DecodingLayerSparse)
	sparse[layers.LayerTypeIPv6Fragment] = nil
	d.container = sparse
	d.parsers = make([]*gopacket.DecodingLayerParser, len(sparse))
	for t, l := range sparse {
		if l == nil {
			continue
		}
		p := gopacket.NewDecodingLayerParser(gopacket.LayerType(t))
		p.IgnoreUnsupported = true
		p.SetDecodingLayerContainer(sparse)
		d.parsers[t] = p
	}
	// DNS gets a parser of its own, started by hand on the ports that carry
	// it; the parser also turns a panic in the layer into an error.
	d.dnsParser = gopacket.NewDecodingLayerParser(layers.LayerTypeDNS, &d.dns)
	return d
}

// decode fills p (all but Frame and Time) from one frame on the given link type.
func (d *decoder) decode(p *packet.Packet, data []byte, linkType uint32) {
	p.Protocols, p.Malformed = "", false
	p.SrcIP, p.DstIP, p.SrcPort, p.DstPort = "", "", 0, 0
	p.TCPFlags, p.QryName, p.RespName, p.Payload = -1, "", "", nil
	p.DNSType, p.DNSRcode, p.DNSResponse, p.ICMPType, p.ICMPv6 = 0, 0, false, -1, false
	d.layers = d.layers[:0]
	d.nameBuf = d.nameBuf[:0]
	d.cut, d.cutData = gopacket.LayerTypeZero, nil

	first, data, ok := d.linkLayer(linkType, data)
	if !ok {
		p.Malformed = true
		p.Protocols = d.linkName(linkType)
		return
	}
	if !d.run(first, data) {
		p.Malformed = true
	}
	if len(d.layers) > maxLayers {
		d.layers = d.layers[:maxLayers]
		p.Malformed = true
	}
	d.fields(p)
	if p.Protocols == "" { // not even the first layer: an empty or cut frame
		p.Malformed = true
	}
}

// linkLayer strips link headers gopacket has no DecodingLayer for and says
// which layer decodes the rest. The name of a stripped header goes into nameBuf.
func (d *decoder) linkLayer(linkType uint32, data []byte) (gopacket.LayerType, []byte, bool) {
	switch linkType {
	case linkEthernet:
		return layers.LayerTypeEthernet, data, true
	case linkSLL:
		return layers.LayerTypeLinuxSLL, data, true
	case linkNull, linkLoop:
		return layers.LayerTypeLoopback, data, true
	case linkIPv4:
		return layers.LayerTypeIPv4, data, true
	case linkIPv6:
		return layers.LayerTypeIPv6, data, true
	case linkRaw, linkRawBSD, linkRawOBSD:
		if len(data) > 0 && data[0]>>4 == 6 {
			return layers.LayerTypeIPv6, data, true
		}
		return layers.LayerTypeIPv4, data, true
	case linkSLL2:
		return layers.LayerTypeLinuxSLL2, data, true
	case linkCHDLC:
		return d.chdlc(data)
	case linkPPP:
		// Cisco HDLC framing (address 0x0f or 0x8f) also appears on this link type.
		if len(data) > 0 && (data[0] == 0x0f || data[0] == 0x8f) {
			return d.chdlc(data)
		}
		return layers.LayerTypePPP, data, true
	}
	return gopacket.LayerTypeZero, nil, false
}

func (d *decoder) chdlc(data []byte) (gopacket.LayerType, []byte, bool) {
	d.nameBuf = append(d.nameBuf, "chdlc"...)
	if len(data) < 4 {
		return gopacket.LayerTypeZero, nil, true
	}
	return layers.EthernetType(binary.BigEndian.Uint16(data[2:])).LayerType(), data[4:], true
}

// run decodes data starting at layer first, resuming past first IP
// fragments. It reports false when a layer failed to decode.
func (d *decoder) run(first gopacket.LayerType, data []byte) bool {
	typ := first
	for range maxRounds {
		if typ < 0 || int64(typ) >= int64(len(d.parsers)) || d.parsers[typ] == nil || len(data) == 0 {
			return true
		}
		p := d.parsers[typ]
		err := p.DecodeLayers(data, &d.decoded)
		d.layers = append(d.layers, d.decoded...)
		if err != nil {
			// The layer that failed is the one after the last decoded.
			failed, rest := typ, data
			if n := len(d.decoded); n > 0 {
				failed, rest = d.nextOf(d.decoded[n-1]), d.payloadOf(d.decoded[n-1])
			}
			if failed == layers.LayerTypeTCP || failed == layers.LayerTypeUDP {
				d.cut, d.cutData = failed, rest
			}
			return false
		}
		last := d.decoded[len(d.decoded)-1]
		switch {
		case last == layers.LayerTypeIPv4 && d.ip4.Flags&layers.IPv4MoreFragments != 0 && d.ip4.FragOffset == 0:
			typ, data = d.ip4.Protocol.LayerType(), d.ip4.Payload
		case (last == layers.LayerTypeIPv6 || layers.LayerClassIPv6Extension.Contains(last)) &&
			d.nextOf(last) == layers.LayerTypeIPv6Fragment:
			frag := d.payloadOf(last)
			if len(frag) < 8 || binary.BigEndian.Uint16(frag[2:])>>3 != 0 {
				return true
			}
			typ, data = layers.IPProtocol(frag[0]).LayerType(), frag[8:]
		default:
			return true
		}
	}
	return true
}

func (d *decoder) nextOf(t gopacket.LayerType) gopacket.LayerType {
	l, _ := d.container.Decoder(t)
	return l.NextLayerType()
}

func (d *decoder) payloadOf(t gopacket.LayerType) []byte {
	l, _ := d.container.Decoder(t)
	return l.LayerPayload()
}

// fields copies what the decoded layers hold into p.
func (d *decoder) fields(p *packet.Packet) {
	var ipSrc, ipDst []byte
	var transport []byte
	hasTransport := false
	for _, t := range d.layers {
		name := ""
		switch t {
		case layers.LayerTypeEthernet:
			name = "eth"
		case layers.LayerTypeDot1Q:
			name = "vlan"
		case layers.LayerTypeLinuxSLL:
			name = "sll"
		case layers.LayerTypeLinuxSLL2:
			name = "sll2"
		case layers.LayerTypePPP:
			name = "ppp"
		case layers.LayerTypeMPLS:
			name = "mpls"
		case layers.LayerTypeLoopback:
			name = "null"
		case layers.LayerTypePPPoE:
			name = "pppoe"
		case layers.LayerTypeIPv4:
			name, ipSrc, ipDst = "ipv4", d.ip4.SrcIP, d.ip4.DstIP
		case layers.LayerTypeIPv6:
			name, ipSrc, ipDst = "ipv6", d.ip6.SrcIP, d.ip6.DstIP
		case layers.LayerTypeGRE:
			name = "gre"
		case layers.LayerTypeARP:
			name = "arp"
		case layers.LayerTypeICMPv4:
			name, transport = "icmp", d.icmp4.Payload
			p.ICMPType = int(d.icmp4.TypeCode.Type())
		case layers.LayerTypeICMPv6:
			name, transport = "icmpv6", d.icmp6.Payload
			p.ICMPType, p.ICMPv6 = int(d.icmp6.TypeCode.Type()), true
		case layers.LayerTypeTCP:
			if hasTransport {
				continue
			}
			hasTransport = true
			name, transport = "tcp", d.tcp.Payload
			p.SrcPort, p.DstPort, p.TCPFlags = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort), tcpFlags(&d.tcp)
		case layers.LayerTypeUDP:
			if hasTransport {
				continue
			}
			hasTransport = true
			name, transport = "udp", d.udp.Payload
			p.SrcPort, p.DstPort = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
		default:
			continue // IPv6 extension headers belong to ipv6
		}
		d.addName(name)
	}
	if ipSrc != nil {
		p.SrcIP, p.DstIP = d.ipString(ipSrc), d.ipString(ipDst)
	}
	if b := d.cutData; !hasTransport && len(b) >= 4 {
		// A transport header cut short (snaplen, a tiny first fragment,
		// damage) still names its ports, as tshark shows them.
		p.SrcPort, p.DstPort = binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
		name := "udp"
		if d.cut == layers.LayerTypeTCP {
			name = "tcp"
			if len(b) >= 14 {
				p.TCPFlags = int(b[13]) | int(b[12]&1)<<8
			}
		}
		d.addName(name)
	}
	last := gopacket.LayerTypeZero
	if n := len(d.layers); n > 0 {
		last = d.layers[n-1]
	}
	switch last {
	case layers.LayerTypeUDP:
		if name := dnsPort(p.SrcPort, p.DstPort); name != "" {
			d.decodeDNS(p, name, d.udp.Payload)
		}
	case layers.LayerTypeTCP:
		// DNS over TCP: a 2-byte length, then the message. There is no
		// stream reassembly: a segment is read as starting a message, and a
		// message longer than the segment is decoded as far as it goes.
		if b := d.tcp.Payload; (p.SrcPort == 53 || p.DstPort == 53) && len(b) >= 2+12 {
			if n := int(binary.BigEndian.Uint16(b)); n >= 12 {
				d.decodeDNS(p, "dns", b[2:min(len(b), 2+n)])
			}
		}
	}
	// Consecutive frames mostly share their layers: compare before hashing.
	if string(d.nameBuf) != d.lastProtocols {
		d.lastProtocols = d.intern(d.nameBuf)
	}
	p.Protocols = d.lastProtocols
	if d.payload > 0 && len(transport) > 0 {
		// The buffer grows to the largest payload kept, not to PayloadBytes.
		d.payBuf = append(d.payBuf[:0], transport[:min(len(transport), d.payload)]...)
		p.Payload = d.payBuf
	}
}

// dnsPort names the DNS flavour a UDP port pair carries, or "".
func dnsPort(src, dst uint16) string {
	switch {
	case src == 53 || dst == 53:
		return "dns"
	case src == 5353 || dst == 5353:
		return "mdns"
	case src == 5355 || dst == 5355:
		return "llmnr"
	}
	return ""
}

// decodeDNS fills the DNS names. A message that decodes only in part keeps
// the names read before the damage and marks the frame malformed.
func (d *decoder) decodeDNS(p *packet.Packet, name string, b []byte) {
	// Capacity cut to length: a layer reading past the message must fail,
	// not see the next bytes of the frame.
	err := d.dnsParser.DecodeLayers(b[:len(b):len(b)], &d.decoded)
	if err != nil {
		p.Malformed = true
		if len(b) < 12 {
			return // not even a header: d.dns holds the previous message
		}
	}
	d.addName(name)
	p.DNSResponse, p.DNSRcode = d.dns.QR, uint8(d.dns.ResponseCode)
	if len(d.dns.Questions) > 0 {
		p.QryName = d.dnsName(d.dns.Questions[0].Name)
		p.DNSType = uint16(d.dns.Questions[0].Type)
	}
	answers := d.dns.Answers
	if len(answers) == 0 {
		return
	}
	start := len(d.nameBuf)
	for i := range answers {
		if i > 0 {
			d.nameBuf = append(d.nameBuf, ',')
		}
		d.nameBuf = appendDNSName(d.nameBuf, answers[i].Name)
	}
	p.RespName = d.intern(d.nameBuf[start:])
	d.nameBuf = d.nameBuf[:start]
}

func (d *decoder) dnsName(b []byte) string {
	start := len(d.nameBuf)
	d.nameBuf = appendDNSName(d.nameBuf, b)
	s := d.intern(d.nameBuf[start:])
	d.nameBuf = d.nameBuf[:start]
	return s
}

// appendDNSName writes a name as text: the root as "<Root>", and bytes that
// are not printable ASCII, and the backslash, as \DDD (RFC 1035 master-file
// style), so the database only ever holds plain text and it reads back.
func appendDNSName(dst, name []byte) []byte {
	if len(name) == 0 {
		return append(dst, "<Root>"...)
	}
	for _, c := range name {
		if c < 0x20 || c > 0x7e || c == '\\' {
			dst = append(dst, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

func (d *decoder) addName(name string) {
	if len(d.nameBuf) > 0 {
		d.nameBuf = append(d.nameBuf, ':')
	}
	d.nameBuf = append(d.nameBuf, name...)
}

// intern returns b as a string, shared with earlier equal strings. Long
// strings (answer lists) are rarely repeated and would make the cache
// large: they are not kept.
func (d *decoder) intern(b []byte) string {
	if len(b) > internMaxLen {
		return string(b)
	}
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	if len(d.strs) >= internLimit {
		clear(d.strs)
	}
	s := string(b)
	d.strs[s] = s
	return s
}

func (d *decoder) ipString(ip []byte) string {
	if len(ip) == 4 {
		k := binary.BigEndian.Uint32(ip)
		if s, ok := d.ip4s[k]; ok {
			return s
		}
		if len(d.ip4s) >= internLimit {
			clear(d.ip4s)
		}
		s := netip.AddrFrom4([4]byte(ip)).String()
		d.ip4s[k] = s
		return s
	}
	if s, ok := d.ip6s[string(ip)]; ok {
		return s
	}
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return ""
	}
	if len(d.ip6s) >= internLimit {
		clear(d.ip6s)
	}
	s := a.String()
	d.ip6s[string(ip)] = s
	return s
}

func (d *decoder) linkName(lt uint32) string {
	if s, ok := d.link[lt]; ok {
		return s
	}
	s := "linktype" + strconv.FormatUint(uint64(lt), 10)
	d.link[lt] = s
	return s
}

func tcpFlags(t *layers.TCP) int {
	f := 0
	for i, set := range [...]bool{t.FIN, t.SYN, t.RST, t.PSH, t.ACK, t.URG, t.ECE, t.CWR, t.NS} {
		if set {
			f |= 1 << i
		}
	}
	return f
}

var (
	errShortPPPoE = errors.New("pppoe header shorter than 6 bytes")
	errShortPPP   = errors.New("ppp header shorter than its protocol field")
	errShortMPLS  = errors.New("mpls label stack without bottom of stack")
)

// The three layers below stand in for gopacket's PPPoE, PPP and MPLS, which
// are not DecodingLayers.

// pppoeLayer decodes a PPPoE session header; PPP follows.
type pppoeLayer struct{ layers.BaseLayer }

var _ gopacket.DecodingLayer = (*pppoeLayer)(nil)

func (l *pppoeLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 6 {
		df.SetTruncated()
		return errShortPPPoE
	}
	body := data[6:]
	if n := int(binary.BigEndian.Uint16(data[4:])); n < len(body) {
		body = body[:n]
	}
	l.BaseLayer = layers.BaseLayer{Contents: data[:6], Payload: body}
	return nil
}

func (l *pppoeLayer) CanDecode() gopacket.LayerClass    { return layers.LayerTypePPPoE }
func (l *pppoeLayer) NextLayerType() gopacket.LayerType { return layers.LayerTypePPP }

// pppLayer decodes PPP framing: an optional 0xff 0x03 address and control,
// then the protocol, one byte when compressed.
type pppLayer struct {
	layers.BaseLayer
	proto uint16
}

var _ gopacket.DecodingLayer = (*pppLayer)(nil)

func (l *pppLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	n := 0
	if len(data) >= 2 && data[0] == 0xff && data[1] == 0x03 {
		n = 2
	}
	switch {
	case len(data) > n && data[n]&1 == 1:
		l.proto = uint16(data[n])
		n++
	case len(data) >= n+2:
		l.proto = binary.BigEndian.Uint16(data[n:])
		n += 2
	default:
		df.SetTruncated()
		return errShortPPP
	}
	l.BaseLayer = layers.BaseLayer{Contents: data[:n], Payload: data[n:]}
	return nil
}

func (l *pppLayer) CanDecode() gopacket.LayerClass { return layers.LayerTypePPP }

func (l *pppLayer) NextLayerType() gopacket.LayerType {
	switch l.proto {
	case 0x21:
		return layers.LayerTypeIPv4
	case 0x57:
		return layers.LayerTypeIPv6
	case 0x281:
		return layers.LayerTypeMPLS
	}
	return gopacket.LayerTypePayload
}

// mplsLayer skips an MPLS label stack. What follows carries no type; like
// tshark, the first nibble tells IPv4 from IPv6.
type mplsLayer struct{ layers.BaseLayer }

var _ gopacket.DecodingLayer = (*mplsLayer)(nil)

func (l *mplsLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	for n := 4; n <= len(data); n += 4 {
		if data[n-2]&1 == 1 { // bottom of stack
			l.BaseLayer = layers.BaseLayer{Contents: data[:n], Payload: data[n:]}
			return nil
		}
	}
	df.SetTruncated()
	return errShortMPLS
}

func (l *mplsLayer) CanDecode() gopacket.LayerClass { return layers.LayerTypeMPLS }

func (l *mplsLayer) NextLayerType() gopacket.LayerType {
	if len(l.Payload) > 0 {
		switch l.Payload[0] >> 4 {
		case 4:
			return layers.LayerTypeIPv4
		case 6:
			return layers.LayerTypeIPv6
		}
	}
	return gopacket.LayerTypePayload
}

// sllLayer is gopacket's LinuxSLL, except that an address length over 8
// (seen in anonymised captures) only limits the address: the header is
// 16 bytes whatever it says, and tshark reads on.
type sllLayer struct{ layers.LinuxSLL }

func (l *sllLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) >= 16 && binary.BigEndian.Uint16(data[4:]) > 8 {
		l.PacketType = layers.LinuxSLLPacketType(binary.BigEndian.Uint16(data))
		l.AddrType = binary.BigEndian.Uint16(data[2:])
		l.AddrLen = binary.BigEndian.Uint16(data[4:])
		l.Addr = data[6:14]
		l.EthernetType = layers.EthernetType(binary.BigEndian.Uint16(data[14:]))
		l.BaseLayer = layers.BaseLayer{Contents: data[:16], Payload: data[16:]}
		return nil
	}
	return l.LinuxSLL.DecodeFromBytes(data, df)
}

// ip4Layer and ip6Layer are gopacket's, checking the version nibble that
// gopacket leaves unchecked: a header of another version is damage, not
// addresses.
type ip4Layer struct{ layers.IPv4 }

func (l *ip4Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) > 0 && data[0]>>4 != 4 {
		return fmt.Errorf("ipv4 header with version %d", data[0]>>4)
	}
	return l.IPv4.DecodeFromBytes(data, df)
}

type ip6Layer struct{ layers.IPv6 }

func (l *ip6Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) > 0 && data[0]>>4 != 6 {
		return fmt.Errorf("ipv6 header with version %d", data[0]>>4)
	}
	return l.IPv6.DecodeFromBytes(data, df)
}

var (
	_ gopacket.DecodingLayer = (*sllLayer)(nil)
	_ gopacket.DecodingLayer = (*ip4Layer)(nil)
	_ gopacket.DecodingLayer = (*ip6Layer)(nil)
)
