package pcaptl

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"portwatch/pkg/capture"
	"portwatch/pkg/packet"
)

// Inputs are the captures a timeline is made from.
type Inputs struct {
	Dir    string        // the directory the paths below are relative to
	Benign []string      // captures of ordinary traffic
	Events []EventSource // captures injected as events
}

// EventSource is a capture injected as events of one kind.
type EventSource struct {
	Kind Kind
	Path string
	// Keep selects the frames taken, and Label says which in the event's
	// name; nil takes every frame.
	Keep  func(*packet.Packet) bool
	Label string
	// Cut takes only the first Cut of the capture; 0 takes all of it.
	Cut time.Duration
	// Local are the monitored host's addresses in this capture where they
	// are not private; they join the timeline's local prefixes.
	Local []netip.Prefix
}

// Name is the source's name in the ground truth: its path, and what Keep takes.
func (s EventSource) Name() string {
	if s.Label == "" {
		return s.Path
	}
	return s.Path + "#" + s.Label
}

// DefaultInputs are the shared captures (../shared/pcaps, see its
// MANIFEST.md) in dir: the benchmark merge and the ordinary DNS and TLS
// captures as background, and the scan, flood, DNS tunnel and bot captures
// as events.
func DefaultInputs(dir string) Inputs {
	ev := func(k Kind, path string) EventSource { return EventSource{Kind: k, Path: path} }
	dnsUnder := func(path, domain string) EventSource {
		return EventSource{Kind: DNSTunnel, Path: path, Label: "*." + domain, Keep: func(p *packet.Packet) bool {
			return under(p.QryName, domain) || under(p.RespName, domain)
		}}
	}
	xscan := ev(Scan, "scans/evilfingers_xscan.pcap")
	xscan.Cut = time.Minute // 6 min of xscan: a slice is a scan already
	ssh := ev(Bot, "attacks/slips_ssh_bruteforce.pcap")
	// Stratosphere's lab addresses are public: the brute-forced host is the monitored one.
	ssh.Local = []netip.Prefix{netip.MustParsePrefix("147.32.80.37/32")}
	return Inputs{
		Dir: dir,
		Benign: []string{
			"benchmark/mixed_real_traffic_merged.pcap",
			"dns/ppa_dns.pcap",
			"dns/malcolm_ripple20_dns_caa_records.pcap",
			"dns/malcolm_ripple20_dns_over_tcp.pcap",
			"dns/malcolm_ripple20_dns_edns_5000_bytes.pcap",
			"dns/ndpi_dns.pcap",
			"dns/ndpi_dns_doh.pcap",
			"dns/ndpi_dns_dot.pcap",
			"dns/ndpi_googledns_android10.pcap",
			"dns/ndpi_dns_fragmented.pcap",
			"dns/ndpi_dns_ambiguous_names.pcap",
		},
		Events: []EventSource{
			ev(Scan, "scans/evilfingers_nmap_tcp_syn_scan.pcap"),
			ev(Scan, "scans/evilfingers_nmap_fin_scan.pcap"),
			ev(Scan, "scans/evilfingers_nmap_null_scan.pcap"),
			ev(Scan, "scans/evilfingers_nmap_xmas_tree_scan.pcap"),
			ev(Scan, "scans/evilfingers_nmap_ack_scan.pcap"),
			ev(Scan, "scans/evilfingers_nmap_udp_scan.pcap"),
			ev(Scan, "scans/evilfingers_nmap_tcp_connect_scan.pcap"),
			ev(Scan, "scans/evilfingers_nmap_version_scan.pcap"),
			ev(Scan, "scans/evilfingers_nmap_ftp_bounce_scan.pcap"), // 16.8 min: spread over 17 or 18 rounds
			ev(Scan, "scans/ppa_portscan.pcap"),
			ev(Scan, "scans/malcolm_simplescan_port_scan.pcap"),
			ev(Scan, "scans/ndpi_tcp_scan.pcapng"),
			xscan,
			ev(Flood, "attacks/stopddos_amp.TCP.reflection.SYNACK.pcap"),
			ev(Flood, "attacks/stopddos_amp.TCP.syn.optionallyACK.optionallysamePort.pcapng"), // 13.6 min, low rate
			ev(Flood, "attacks/stopddos_amp.UDP.bacnet.IOT.37810.pcapng"),
			ev(Flood, "attacks/stopddos_amp.UDP.isakmp.pcap"),
			ev(Flood, "attacks/stopddos_amp.UDP.snmp.src161.pcapng"),
			ev(Flood, "attacks/stopddos_amp.dns.RRSIG.fragmented.pcap"),
			ev(Flood, "attacks/stopddos_pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng"),
			// Random spoofed sources and destinations: few, if any, are local.
			ev(Flood, "attacks/ppa_dosattack.pcap"),
			dnsUnder("dns/malcolm_DNS_merged.pcap", "pirate.sea"),
			dnsUnder("dns/malcolm_DNS_merged.pcap", "tunnel.phd"),
			ev(DNSTunnel, "dns/ndpi_bad-dns-traffic.pcap"),
			ev(DNSTunnel, "dns/ndpi_dns_long_domainname.pcap"),
			ev(Bot, "scans/malcolm_simplescan_scan_with_zero_windows.pcap"),
			ev(Bot, "scans/malcolm_simplescan_445_scan.pcap"),       // hours, out of order: squeezed
			ev(Bot, "scans/malcolm_simplescan_multiport_scan.pcap"), // likewise
			ssh,
			ev(Bot, "attacks/ppa_blaster_worm.pcap"),
		},
	}
}

// under reports whether a DNS name (or a comma-separated list) is domain or below it.
func under(names, domain string) bool {
	for n := range strings.SplitSeq(strings.ToLower(names), ",") {
		if n == domain || strings.HasSuffix(n, "."+domain) {
			return true
		}
	}
	return false
}

// privateLocal are the monitored side of every timeline: the private
// ranges, where the captures' LAN hosts, scan targets and flood victims
// (StopDDoS anonymised them to 10.10.10.x) live.
var privateLocal = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}

// Library is a set of Inputs read into memory, ready to make timelines.
type Library struct {
	groups [][]piece // background: each source chunk's pieces, in order
	events []event   // one per Inputs.Events
	local  []netip.Prefix
	Stats  LoadStats
}

// LoadStats count what loading kept and left out.
type LoadStats struct {
	BenignFrames int // background frames kept
	Excluded     int // background frames also found in an event source, left out
	Duplicates   int // background frames found earlier in the background, left out
	NotEthernet  int // frames of another link type, left out
	Chunks       int // source chunks of background
	Pieces       int // pieces of at most pieceSpan the chunks were cut into
	EventFrames  int // frames of the event sources, as taken and cut
}

// frame is one frame to write, at an offset from the start of its piece or event.
type frame struct {
	at   time.Duration
	data []byte
	wire int
}

// piece is up to pieceSpan of one source chunk.
type piece struct {
	group  int
	frames []frame // by offset, the first at 0
	span   time.Duration
}

// event is an event source's frames, by offset from its first at 0.
type event struct {
	src    EventSource
	frames []frame
	span   time.Duration
}

// Background captures are cut into source chunks where a pause exceeds
// chunkGap or time goes back more than chunkBack (the benchmark merge jumps
// between its sources, years apart); smaller steps back are jitter within
// a capture. A chunk is cut into pieces of under pieceSpan, so each fits in
// a minute and the next round starts at a fresh piece.
const (
	chunkGap  = 10 * time.Second
	chunkBack = time.Second
	pieceSpan = 59 * time.Second
)

// Event captures spanning more than maxSpread are not one episode kept
// at its pace (malcolm_simplescan's files jump back and forth over hours):
// they are squeezed, in time order, into squeezeTo.
const (
	maxSpread = 20 * time.Minute
	squeezeTo = 50 * time.Second
)

// Load reads every capture of in. Background frames also in an event
// source (the benchmark merge holds Malcolm's DNS.pcap, with both tunnels,
// and nDPI's long-domain-name capture) or seen before in the background
// are left out, so no event hides in the background and no background
// capture counts twice.
func Load(ctx context.Context, in Inputs) (*Library, error) {
	lib := &Library{}
	for _, p := range privateLocal {
		lib.local = append(lib.local, netip.MustParsePrefix(p))
	}
	inEvents, inBenign := map[frameKey]bool{}, map[frameKey]bool{}
	for _, src := range in.Events {
		var taken []stamped
		err := readCapture(ctx, filepath.Join(in.Dir, src.Path), func(rec capture.Record) {
			inEvents[keyOf(rec)] = true
			if rec.LinkType != ethernet {
				lib.Stats.NotEthernet++
				return
			}
			if src.Keep == nil || src.Keep(rec.Packet) {
				taken = append(taken, stamp(rec))
			}
		})
		if err != nil {
			return nil, fmt.Errorf("event source %s: %w", src.Name(), err)
		}
		if len(taken) == 0 {
			return nil, fmt.Errorf("event source %s: no Ethernet frame taken", src.Name())
		}
		ev := newEvent(src, taken)
		lib.events = append(lib.events, ev)
		lib.Stats.EventFrames += len(ev.frames)
		for _, p := range src.Local {
			if !slices.Contains(lib.local, p) {
				lib.local = append(lib.local, p)
			}
		}
	}
	for _, path := range in.Benign {
		var kept []stamped
		err := readCapture(ctx, filepath.Join(in.Dir, path), func(rec capture.Record) {
			k := keyOf(rec)
			switch {
			case rec.LinkType != ethernet:
				lib.Stats.NotEthernet++
			case inEvents[k]:
				lib.Stats.Excluded++
			case inBenign[k]:
				lib.Stats.Duplicates++
			default:
				inBenign[k] = true
				kept = append(kept, stamp(rec))
			}
		})
		if err != nil {
			return nil, fmt.Errorf("background capture %s: %w", path, err)
		}
		lib.Stats.BenignFrames += len(kept)
		lib.addChunks(kept)
	}
	lib.Stats.Chunks = len(lib.groups)
	if len(lib.groups) < 2 {
		return nil, fmt.Errorf("background: %d source chunks, want 2 or more to hold some out of training", len(lib.groups))
	}
	return lib, nil
}

// ethernet is LINKTYPE_ETHERNET, the timelines' link type.
const ethernet = 1

// stamped is a frame read, at its capture time.
type stamped struct {
	at time.Time
	frame
}

// frameKey tells frames apart by time and content.
type frameKey struct {
	at   int64
	n    int
	hash uint64
}

func keyOf(rec capture.Record) frameKey {
	h := fnv.New64a()
	h.Write(rec.Data)
	return frameKey{rec.Packet.Time.UnixNano(), len(rec.Data), h.Sum64()}
}

// stamp copies a record's bytes, which the reader reuses.
func stamp(rec capture.Record) stamped {
	return stamped{rec.Packet.Time, frame{data: slices.Clone(rec.Data), wire: rec.Packet.Length}}
}

// readCapture calls f with every frame of the capture at path, in file
// order; the record is valid only during the call. A damaged capture is an
// error: the inputs are known files, and a cut one would change the timelines.
func readCapture(ctx context.Context, path string, f func(capture.Record)) error {
	r, err := capture.OpenRecords(ctx, path, capture.Options{})
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		f(rec)
	}
}
