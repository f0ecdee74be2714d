package pcaptl

import (
	"net/netip"
	"time"

	"portwatch/pkg/packet"
)

// Zeek's scan policy (policy/misc/scan.zeek) with its default thresholds:
// a scanner is reported when, within 5 minutes, its failed connection
// attempts reach 15 distinct ports of one host (port scan) or 25 distinct
// hosts on one port (address scan), and once per key and 5 minutes
// (SumStats' epoch).
const (
	PortScanThreshold = 15
	AddrScanThreshold = 25
	ScanInterval      = 5 * time.Minute
)

// Crossing is one scan threshold crossed: Victim set for a port scan, Port for an
// address scan.
type Crossing struct {
	Scanner  netip.Addr
	Victim   netip.Addr
	Port     uint16
	Distinct int // ports or hosts within the interval
}

// zeek follows the scan policy over packets. An attempt is a TCP segment
// with neither ACK nor RST (SYN, and the FIN, NULL and Xmas probes, which
// only an originator sends) to a local address; it fails unless the
// round holds that port's SYN+ACK back to the scanner. Zeek reads flows,
// and misses UDP and ACK probes as this does.
type zeek struct {
	local    []netip.Prefix
	addrs    map[string]netip.Addr
	attempts []attempt
	answered map[conn]bool
	ports    map[hostPair]*window[uint16]
	hosts    map[hostPort]*window[netip.Addr]
}

type conn struct {
	scanner, victim netip.Addr
	port            uint16
}

type attempt struct {
	conn
	at time.Time
}

type hostPair struct{ scanner, victim netip.Addr }

type hostPort struct {
	scanner netip.Addr
	port    uint16
}

func newZeek(local []netip.Prefix) *zeek {
	return &zeek{local: local, addrs: map[string]netip.Addr{}, answered: map[conn]bool{},
		ports: map[hostPair]*window[uint16]{}, hosts: map[hostPort]*window[netip.Addr]{}}
}

// addr parses an address once; the capture's strings repeat.
func (z *zeek) addr(s string) netip.Addr {
	a, ok := z.addrs[s]
	if !ok {
		a, _ = netip.ParseAddr(s)
		z.addrs[s] = a
	}
	return a
}

func (z *zeek) isLocal(a netip.Addr) bool {
	for _, p := range z.local {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (z *zeek) add(p *packet.Packet) {
	if p.TCPFlags < 0 || p.SrcIP == "" {
		return
	}
	switch {
	case p.TCPFlags&(synFlag|ackFlag) == synFlag|ackFlag:
		z.answered[conn{z.addr(p.DstIP), z.addr(p.SrcIP), p.SrcPort}] = true
	case p.TCPFlags&(ackFlag|rstFlag) == 0:
		dst := z.addr(p.DstIP)
		if z.isLocal(dst) {
			z.attempts = append(z.attempts, attempt{conn{z.addr(p.SrcIP), dst, p.DstPort}, p.Time})
		}
	}
}

// endRound counts the round's failed attempts and returns the thresholds
// they crossed, and the highest count over its threshold they reached.
func (z *zeek) endRound() ([]Crossing, float64) {
	var out []Crossing
	peak := 0.0
	for _, a := range z.attempts {
		if z.answered[a.conn] {
			continue
		}
		pw := z.ports[hostPair{a.scanner, a.victim}]
		if pw == nil {
			pw = newWindow[uint16]()
			z.ports[hostPair{a.scanner, a.victim}] = pw
		}
		n, crossed := pw.add(a.port, a.at, PortScanThreshold)
		peak = max(peak, float64(n)/PortScanThreshold)
		if crossed {
			out = append(out, Crossing{Scanner: a.scanner, Victim: a.victim, Distinct: n})
		}
		hw := z.hosts[hostPort{a.scanner, a.port}]
		if hw == nil {
			hw = newWindow[netip.Addr]()
			z.hosts[hostPort{a.scanner, a.port}] = hw
		}
		n, crossed = hw.add(a.victim, a.at, AddrScanThreshold)
		peak = max(peak, float64(n)/AddrScanThreshold)
		if crossed {
			out = append(out, Crossing{Scanner: a.scanner, Port: a.port, Distinct: n})
		}
	}
	z.attempts = z.attempts[:0]
	clear(z.answered)
	return out, peak
}

// window holds the distinct items seen within the last ScanInterval.
type window[T comparable] struct {
	last  map[T]time.Time
	queue []seen[T]
	fired time.Time // the last crossing
}

type seen[T comparable] struct {
	item T
	at   time.Time
}

func newWindow[T comparable]() *window[T] { return &window[T]{last: map[T]time.Time{}} }

// add records item at time at and returns how many distinct items the
// interval ending at at holds, and whether that crosses threshold: reaches
// it with no crossing in the interval before.
func (w *window[T]) add(item T, at time.Time, threshold int) (int, bool) {
	w.last[item] = at
	w.queue = append(w.queue, seen[T]{item, at})
	cut := at.Add(-ScanInterval)
	for len(w.queue) > 0 && !w.queue[0].at.After(cut) {
		if old := w.queue[0]; w.last[old.item].Equal(old.at) {
			delete(w.last, old.item)
		}
		w.queue = w.queue[1:]
	}
	n := len(w.last)
	if n < threshold || (!w.fired.IsZero() && at.Sub(w.fired) < ScanInterval) {
		return n, false
	}
	w.fired = at
	return n, true
}
