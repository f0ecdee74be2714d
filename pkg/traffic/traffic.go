// Package traffic sums one round's packets into the compact traffic
// summary that detection reads instead of packet rows: per destination port
// and direction the packets, SYNs without ACK, RSTs and distinct peers; per
// source the local ports and hosts it touched and probed (scan fan-out); ICMP
// unreachables; sessions on backdoor ports; and the round's DNS figures
// (queries, distinct names per registered domain, label lengths, name
// entropy, TXT/NULL and NXDOMAIN shares, the deepest NXDOMAIN name).
//
// An Aggregator takes every packet of a round (Add: a map update, no
// allocation for a conversation already seen) and, at the round's end,
// turns what it holds into a Summary (Summarize) with the local side known:
// from the host's interfaces, from --local prefixes, or inferred from the
// round itself. Memory is bounded: at most MaxKeys conversations (source,
// destination, destination port, protocol) and MaxNames DNS names per round
// are kept; packets past the bound are counted in the totals and in
// Summary.Overflow, not in the per-key figures.
package traffic

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"portwatch/pkg/packet"
)

// Bounds of one round's distinct keys, and of the source rows kept.
const (
	MaxKeys    = 1 << 16 // conversations: a full SYN scan of one host fits
	MaxNames   = 4096    // distinct DNS query names
	MaxSources = 256     // source rows, the widest fan-out first
)

// Where the local side of a round's traffic came from (rounds.local_from).
const (
	FromInterfaces = "interfaces" // the host's interface addresses (live capture)
	FromFlag       = "flag"       // collect --local CIDR...
	FromInferred   = "inferred"   // the round's busiest address (capture files without --local)
)

// Directions of a PortStat, seen from the local side.
const (
	In  = "in"  // to a local address
	Out = "out" // from a local address
)

// Local says which addresses are this host's.
type Local struct {
	From     string         // FromInterfaces, FromFlag or FromInferred
	Prefixes []netip.Prefix // nil with FromInferred: Summarize picks one address
}

// PortStat is one (destination port, protocol, direction) of a round.
type PortStat struct {
	Port      uint16
	Protocol  string // tcp or udp
	Direction string // In or Out
	Packets   int64
	SYNs      int64 // SYN without ACK: connection attempts
	RSTs      int64
	Peers     int64 // distinct remote addresses
}

// SourceStat is one address that sent to local ones: a remote address, or
// a local one reaching another local address (a host on the monitored
// network scanning its neighbours).
type SourceStat struct {
	Address    string
	LocalPorts int64 // distinct local (address, port) destinations: scan fan-out
	LocalHosts int64 // distinct local addresses
	// ProbedPorts and ProbedHosts count only the destinations that got a
	// TCP segment with neither ACK nor RST (SYN, FIN, NULL, XMAS): what a
	// scanner sends and an established conversation never does, so a
	// server's replies to a busy client's many ephemeral ports are not
	// fan-out here.
	ProbedPorts int64
	ProbedHosts int64
	Packets     int64
	SYNs        int64
	// Attempts are the most SYNs the source sent to one local (address,
	// port), AttemptHost and AttemptPort that destination: a client's
	// repeated connections to one service (password guessing) rather than
	// fan-out over many.
	Attempts    int64
	AttemptHost string
	AttemptPort uint16
	Local       bool // the source is a local address
}

// SpreadStat is the local source that sent TCP probes (no ACK, no RST)
// to the most remote addresses on one port without hearing back from them
// in the round: a worm or bot scanning outward (445, 135, 23) gets few
// answers, while a client's connections are answered.
type SpreadStat struct {
	Source string
	Port   uint16
	Hosts  int64 // distinct remote addresses probed on Port that sent nothing back
}

// BackdoorStat is the address with the most peers in sessions on one of
// its well-known backdoor or remote-shell ports (see backdoorPort): a peer
// sent it segments of an established connection (ACK, no SYN, no RST) and
// it answered from that port. A client on such a port is left out: one
// whose bare SYN was seen, or talking to a well-known port (below 1024):
// old Windows and BSD pick ephemeral ports in 1025-5000, where 1524, 3127
// and 4444 lie. A scan of the port is not a
// session: it gets a SYN-ACK or a RST and no data.
type BackdoorStat struct {
	Host  string // the address serving the port, local or remote (a reverse shell's listener)
	Port  uint16
	Peers int64 // distinct addresses in sessions with it
}

// ReflectStat is the UDP a round's local addresses got from one service
// source port (53 DNS, 123 NTP, 161 SNMP, ...) of remote addresses they
// sent nothing to on that port: answers to queries never asked, which is
// what a reflection (amplification) attack aimed at a local address is.
type ReflectStat struct {
	Port    uint16 // the service source port
	Sources int64  // distinct remote addresses
	Packets int64
}

// DomainStat is one registered domain (eTLD+1) of the round's DNS queries.
type DomainStat struct {
	Domain   string
	Queries  int64
	Names    int64 // distinct query names under it
	MaxLabel int   // longest label of those names
}

// Summary is one round's traffic.
type Summary struct {
	Local     Local // Prefixes as used: the inferred address, when inferred
	Packets   int64 // frames of the round
	IPPackets int64 // frames with an IP layer
	Overflow  int64 // packets past MaxKeys conversations plus DNS queries past MaxNames names: in the totals only
	Sources   int64 // distinct addresses that sent to local ones (see SourceStat)
	Unreach   int64 // ICMP and ICMPv6 destination unreachable messages
	// SYNSources are the distinct addresses that sent a SYN without ACK,
	// local or not, to anyone: a flood from spoofed sources shows here
	// even when it is aimed past the local addresses.
	SYNSources int64
	Reflect    ReflectStat  // the service port with the most unsolicited sources; zero without any
	Spread     SpreadStat   // the widest unanswered outward fan-out; zero without any
	Backdoor   BackdoorStat // sessions on a backdoor or remote-shell port with a local address; zero without any
	DNS        DNSStats     // unicast DNS (port 53)
	Ports      []PortStat
	Top        []SourceStat // sources touching 2+ local ports or hosts, widest first, at most MaxSources
	Domains    []DomainStat
	Note       string // why figures are zero or partial: "no IP traffic", "one direction only", ...
}

// DNSStats are a round's DNS figures; shares and means are 0 without queries.
type DNSStats struct {
	Queries, Responses int64
	Names              int64   // distinct query names
	MaxLabel           int     // longest label of a query name
	MeanLabel          float64 // mean label length over queries
	Entropy            float64 // mean Shannon entropy, bits per character, of query names
	MaxEntropy         float64
	TXTNullShare       float64 // queries of type TXT or NULL over queries
	NXDomainShare      float64 // NXDOMAIN responses over responses
	// NXDepth is the most labels an NXDOMAIN-answered name has below its
	// registered domain, NXName that name: data encoded as labels under a
	// domain whose server answers nothing (exfiltration) is deeper than
	// an ordinary mistyped or search-suffixed name. Reverse lookups (.arpa)
	// are left out: their depth is an address's.
	NXDepth int
	NXName  string
}

type flowKey struct {
	src, dst string
	port     uint16 // destination port, 0 where none
	proto    uint8  // 6 TCP, 17 UDP, 0 anything else
}

type flowStat struct {
	packets, syns, rsts, probes int64
	data                        int64 // TCP segments of an established connection: ACK, no SYN, no RST
	// sport is the source port where it is a service's: a UDP reflector's
	// (servicePort), or a TCP backdoor's that answered (backdoorPort,
	// any segment but a RST or a bare SYN); else 0.
	sport uint16
	// dialed is set when a bare SYN left a backdoor port: a client's
	// ephemeral port, not a listener.
	dialed bool
}

// Aggregator holds one round's packets in summary form. The zero value is
// not ready: use New. It is not safe for concurrent use.
type Aggregator struct {
	flows    map[flowKey]int32 // index into stats
	stats    []flowStat
	overflow int64
	packets  int64
	ip       int64
	unreach  int64
	dns      dnsAgg
}

// New returns an empty Aggregator.
func New() *Aggregator {
	return &Aggregator{flows: make(map[flowKey]int32), dns: dnsAgg{names: make(map[string]int32)}}
}

// Add counts one packet. It keeps no reference to p, only its strings.
func (a *Aggregator) Add(p *packet.Packet) {
	a.packets++
	if p.SrcIP == "" {
		return
	}
	a.ip++
	if (p.ICMPType == 3 && !p.ICMPv6) || (p.ICMPType == 1 && p.ICMPv6) {
		a.unreach++
	}
	k := flowKey{src: p.SrcIP, dst: p.DstIP}
	if p.TCPFlags >= 0 {
		k.port, k.proto = p.DstPort, 6
	} else if p.SrcPort != 0 || p.DstPort != 0 {
		k.port, k.proto = p.DstPort, 17
	}
	i, ok := a.flows[k]
	if !ok {
		if len(a.stats) >= MaxKeys {
			a.overflow++
			a.dns.add(p, &a.overflow)
			return
		}
		i = int32(len(a.stats))
		a.flows[k] = i
		a.stats = append(a.stats, flowStat{})
	}
	s := &a.stats[i]
	s.packets++
	if p.TCPFlags >= 0 {
		if p.TCPFlags&0x12 == 0x02 { // SYN without ACK
			s.syns++
		}
		if p.TCPFlags&0x04 != 0 {
			s.rsts++
		}
		if p.TCPFlags&0x14 == 0 { // neither ACK nor RST: a probe
			s.probes++
		}
		if p.TCPFlags&0x16 == 0x10 { // ACK without SYN or RST
			s.data++
		}
		if backdoorPort(p.SrcPort) {
			switch {
			case p.TCPFlags&0x12 == 0x02:
				s.dialed = true
			case p.TCPFlags&0x04 == 0:
				s.sport = p.SrcPort
			}
		}
	} else if k.proto == 17 && servicePort(p.SrcPort) {
		s.sport = p.SrcPort
	}
	a.dns.add(p, &a.overflow)
}

// Summarize returns the round's summary with local as this host's side and
// empties the Aggregator for the next round.
func (a *Aggregator) Summarize(local Local) *Summary {
	s := &Summary{Local: local, Packets: a.packets, IPPackets: a.ip, Overflow: a.overflow, Unreach: a.unreach}
	if local.From == FromInferred {
		s.Local.Prefixes = a.infer()
	}
	isLocal := a.classify(s.Local.Prefixes)
	a.portsAndSources(s, isLocal)
	s.DNS, s.Domains = a.dns.summarize()
	s.Note = note(s)
	a.reset()
	return s
}

// roomyRound is the number of keys past which a round's maps are dropped
// rather than cleared: a map keeps the room of its busiest round, and
// ranging over it (several times a round) and clearing it cost that room
// in every quiet round after a flood.
const roomyRound = 256

func (a *Aggregator) reset() {
	if len(a.flows) > roomyRound {
		a.flows = make(map[flowKey]int32)
	} else {
		clear(a.flows)
	}
	a.stats = a.stats[:0]
	a.overflow, a.packets, a.ip, a.unreach = 0, 0, 0, 0
	a.dns.reset()
}

// classify tells, for every address of the round, whether it is local.
func (a *Aggregator) classify(prefixes []netip.Prefix) map[string]bool {
	local := make(map[string]bool)
	for k := range a.flows {
		for _, ip := range [2]string{k.src, k.dst} {
			if _, seen := local[ip]; !seen {
				local[ip] = contains(prefixes, ip)
			}
		}
	}
	return local
}

func contains(prefixes []netip.Prefix, ip string) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// infer picks the monitored host of a capture without --local: the unicast
// address with the most distinct peers (a host's own capture: the host; a
// flood: its target), then the one receiving most SYNs (a scan: its target),
// then the busiest. nil when the round has no unicast address.
func (a *Aggregator) infer() []netip.Prefix {
	type cand struct{ peers, synsIn, packets int64 }
	cands := make(map[string]*cand)
	get := func(ip string) *cand {
		c := cands[ip]
		if c == nil {
			c = &cand{}
			cands[ip] = c
		}
		return c
	}
	pairs := make(map[[2]string]bool)
	for k, i := range a.flows {
		st := a.stats[i]
		get(k.src).packets += st.packets
		d := get(k.dst)
		d.packets += st.packets
		d.synsIn += st.syns
		pair := [2]string{min(k.src, k.dst), max(k.src, k.dst)}
		if !pairs[pair] && k.src != k.dst {
			pairs[pair] = true
			get(k.src).peers++
			d.peers++
		}
	}
	var best string
	var bc *cand
	for ip, c := range cands {
		addr, err := netip.ParseAddr(ip)
		if err != nil || !addr.IsGlobalUnicast() && !addr.IsLoopback() && !addr.IsLinkLocalUnicast() {
			continue // multicast, limited broadcast, unspecified
		}
		if addr.Is4() && addr.As4()[3] == 255 {
			continue // a subnet broadcast hears from everyone
		}
		if bc == nil || cmp.Or(cmp.Compare(c.peers, bc.peers), cmp.Compare(c.synsIn, bc.synsIn),
			cmp.Compare(c.packets, bc.packets), cmp.Compare(best, ip)) > 0 {
			best, bc = ip, c
		}
	}
	if bc == nil {
		return nil
	}
	addr := netip.MustParseAddr(best).Unmap()
	return []netip.Prefix{netip.PrefixFrom(addr, addr.BitLen())}
}

type portKey struct {
	port  uint16
	proto uint8
	dir   string
}

// portsAndSources fills the per-port and per-source figures.
func (a *Aggregator) portsAndSources(s *Summary, isLocal map[string]bool) {
	ports := make(map[portKey]*PortStat)
	peers := make(map[struct {
		portKey
		peer string
	}]bool)
	type hostPort struct {
		host string
		port uint16
	}
	type srcAgg struct {
		SourceStat
		ports, probed      map[hostPort]bool
		hosts, probedHosts map[string]bool
	}
	sources := make(map[string]*srcAgg)
	synSources := make(map[string]bool)
	type reflectKey struct {
		port uint16
		src  string
	}
	reflect := make(map[uint16]*ReflectStat)
	reflectSrc := make(map[reflectKey]bool)
	// Remote addresses that sent to a local one, by pair: what answers an
	// outward probe.
	heard := make(map[[2]string]bool)
	for k := range a.flows {
		if isLocal[k.dst] && !isLocal[k.src] {
			heard[[2]string{k.dst, k.src}] = true
		}
	}
	type spreadKey struct {
		src  string
		port uint16
	}
	spread := make(map[spreadKey]int64)
	// Backdoor ports that answered, by (server, client, port).
	type servedKey struct {
		server, client string
		port           uint16
	}
	served := make(map[servedKey]bool)
	for k, i := range a.flows {
		// Toward a well-known port (443) the backdoor port is a client's.
		if st := a.stats[i]; k.proto == 6 && st.sport != 0 && !st.dialed && k.port >= 1024 {
			served[servedKey{k.src, k.dst, st.sport}] = true
		}
	}
	backdoor := make(map[hostPort]int64)
	add := func(k portKey, peer string, st flowStat) {
		ps := ports[k]
		if ps == nil {
			ps = &PortStat{Port: k.port, Protocol: protoName(k.proto), Direction: k.dir}
			ports[k] = ps
		}
		ps.Packets += st.packets
		ps.SYNs += st.syns
		ps.RSTs += st.rsts
		pk := struct {
			portKey
			peer string
		}{k, peer}
		if !peers[pk] {
			peers[pk] = true
			ps.Peers++
		}
	}
	for k, i := range a.flows {
		st := a.stats[i]
		srcLocal, dstLocal := isLocal[k.src], isLocal[k.dst]
		if st.syns > 0 {
			synSources[k.src] = true
		}
		if st.probes > 0 && k.proto == 6 && srcLocal && !dstLocal && !heard[[2]string{k.src, k.dst}] {
			spread[spreadKey{k.src, k.port}]++ // one flow key per (source, destination, port): a distinct host
		}
		if k.proto == 6 && st.data > 0 && backdoorPort(k.port) && (srcLocal || dstLocal) && served[servedKey{k.dst, k.src, k.port}] {
			backdoor[hostPort{k.dst, k.port}]++ // one flow key per (client, server, port): a distinct peer
		}
		if k.proto == 17 && st.sport != 0 && dstLocal && !srcLocal {
			if _, asked := a.flows[flowKey{src: k.dst, dst: k.src, port: st.sport, proto: 17}]; !asked {
				r := reflect[st.sport]
				if r == nil {
					r = &ReflectStat{Port: st.sport}
					reflect[st.sport] = r
				}
				r.Packets += st.packets
				if rk := (reflectKey{st.sport, k.src}); !reflectSrc[rk] {
					reflectSrc[rk] = true
					r.Sources++
				}
			}
		}
		if dstLocal && k.proto != 0 {
			add(portKey{k.port, k.proto, In}, k.src, st)
		}
		if srcLocal && k.proto != 0 {
			add(portKey{k.port, k.proto, Out}, k.dst, st)
		}
		if !dstLocal || k.src == k.dst {
			continue
		}
		sa := sources[k.src]
		if sa == nil {
			sa = &srcAgg{SourceStat: SourceStat{Address: k.src, Local: srcLocal}, ports: make(map[hostPort]bool), probed: make(map[hostPort]bool),
				hosts: make(map[string]bool), probedHosts: make(map[string]bool)}
			sources[k.src] = sa
		}
		sa.Packets += st.packets
		sa.SYNs += st.syns
		if st.syns > sa.Attempts || st.syns == sa.Attempts && st.syns > 0 && hostPortLess(k.dst, k.port, sa.AttemptHost, sa.AttemptPort) {
			sa.Attempts, sa.AttemptHost, sa.AttemptPort = st.syns, k.dst, k.port
		}
		sa.hosts[k.dst] = true
		if k.proto != 0 {
			sa.ports[hostPort{k.dst, k.port}] = true
		}
		if st.probes > 0 {
			sa.probed[hostPort{k.dst, k.port}] = true
			sa.probedHosts[k.dst] = true
		}
	}
	for _, ps := range ports {
		s.Ports = append(s.Ports, *ps)
	}
	slices.SortFunc(s.Ports, func(x, y PortStat) int {
		return cmp.Or(cmp.Compare(x.Port, y.Port), strings.Compare(x.Protocol, y.Protocol), strings.Compare(x.Direction, y.Direction))
	})
	s.Sources = int64(len(sources))
	s.SYNSources = int64(len(synSources))
	for _, r := range reflect {
		if r.Sources > s.Reflect.Sources || r.Sources == s.Reflect.Sources && r.Port < s.Reflect.Port {
			s.Reflect = *r
		}
	}
	for k, n := range spread {
		sp := &s.Spread
		if n > sp.Hosts || n == sp.Hosts && hostPortLess(k.src, k.port, sp.Source, sp.Port) {
			*sp = SpreadStat{Source: k.src, Port: k.port, Hosts: n}
		}
	}
	for k, n := range backdoor {
		b := &s.Backdoor
		if n > b.Peers || n == b.Peers && hostPortLess(k.host, k.port, b.Host, b.Port) {
			*b = BackdoorStat{Host: k.host, Port: k.port, Peers: n}
		}
	}
	for _, sa := range sources {
		sa.LocalPorts, sa.LocalHosts = int64(len(sa.ports)), int64(len(sa.hosts))
		sa.ProbedPorts, sa.ProbedHosts = int64(len(sa.probed)), int64(len(sa.probedHosts))
		if sa.LocalPorts >= 2 || sa.LocalHosts >= 2 || sa.Attempts >= 2 {
			s.Top = append(s.Top, sa.SourceStat)
		}
	}
	// Widest first, then the most repeated attempts: a brute-forcer of one
	// port is kept unless 256 sources each touched 2 ports or more.
	slices.SortFunc(s.Top, func(x, y SourceStat) int {
		return cmp.Or(cmp.Compare(y.LocalPorts, x.LocalPorts), cmp.Compare(y.LocalHosts, x.LocalHosts),
			cmp.Compare(y.Attempts, x.Attempts), strings.Compare(x.Address, y.Address))
	})
	s.Top = s.Top[:min(len(s.Top), MaxSources)]
}

// servicePort reports whether a UDP source port is a service's that
// answers small queries with large replies: the well-known ports, and the
// registered ones reflection attacks use (SSDP, ARD, WS-Discovery, CoAP,
// Ubiquiti discovery, memcached, DVR discovery, BACnet).
func servicePort(p uint16) bool {
	switch p {
	case 1900, 3283, 3702, 5683, 10001, 11211, 37810, 47808:
		return true
	}
	return p != 0 && p < 1024
}

// backdoorPort reports whether a TCP port is one that backdoors and remote
// shells listen on, and no ordinary service: ingreslock's root shell
// (1524), MyDoom (3127), Metasploit's default handler and Blaster's shell
// (4444), Sasser's FTP and shell (5554, 9996) and SubSeven (27374). Not
// 31337 or 12345 (Back Orifice's is UDP, NetBus is long gone): apps and
// developers' servers listen on them, as two do in the benchmark capture.
func backdoorPort(p uint16) bool {
	switch p {
	case 1524, 3127, 4444, 5554, 9996, 27374:
		return true
	}
	return false
}

// hostPortLess orders destinations, so ties of Attempts pick the same one in every run.
func hostPortLess(h1 string, p1 uint16, h2 string, p2 uint16) bool {
	return cmp.Or(strings.Compare(h1, h2), cmp.Compare(p1, p2)) < 0
}

func protoName(p uint8) string {
	if p == 6 {
		return "tcp"
	}
	return "udp"
}

// note says why a summary's figures are zero or partial; "" when nothing is amiss.
func note(s *Summary) string {
	var notes []string
	switch {
	case s.Packets == 0:
		notes = append(notes, "no packets")
	case s.IPPackets == 0:
		notes = append(notes, "no IP traffic")
	case len(s.Local.Prefixes) == 0:
		notes = append(notes, "no local address: directions unknown")
	default:
		var in, out bool
		for _, p := range s.Ports {
			in = in || p.Direction == In
			out = out || p.Direction == Out
		}
		switch {
		case !in && !out:
			notes = append(notes, "no TCP or UDP traffic of a local address")
		case !in:
			notes = append(notes, "one direction only: nothing to a local address")
		case !out:
			notes = append(notes, "one direction only: nothing from a local address")
		}
	}
	if s.Overflow > 0 {
		notes = append(notes, "key bound reached: per-key figures partial")
	}
	return strings.Join(notes, "; ")
}
