package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"portwatch/pkg/packet"
	"strings"
	"testing"
	"time"

	"portwatch/pkg/capture/capturetest"
)

// TestFormats checks frames of real captures that exercise one format
// feature each; times are tshark's frame.time_epoch for the same frame.
func TestFormats(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		frame     int64
		time      time.Time // zero: not checked
		protocols string
		src       string
	}{
		{"nanosecond pcap", "corpus/tcpdump-tests/tcp-handshake-nano.pcap", 1, time.Unix(1418145369, 924505488), "sll:ipv4:tcp", ""},
		{"big-endian pcap", "corpus/tcpdump-tests/pptp.pcap", 1, time.Unix(954147395, 148077000), "eth:ipv4:tcp", ""},
		{"pcapng, second of three interfaces", "formats/ndpi_anydesk.pcapng", 1, time.Unix(1591342198, 821353000), "eth:ipv4:tcp", ""},
		{"pcapng, first of three interfaces", "formats/ndpi_anydesk.pcapng", 62, time.Unix(1613977585, 247036000), "eth:ipv4:udp:dns", ""},
		{"pcapng if_tsresol 9", "corpus/tcpdump-tests/icmp-length-zero.pcapng", 1, time.Unix(1759756153, 1000), "eth:ipv4:icmp", ""},
		// tshark prints the raw 1000000 µs; time.Unix carries it into the seconds.
		{"sub-second field out of range", "corpus/tcpdump-tests/timestamp_invalid_micro.pcap", 2, time.Unix(1418145371, 0), "sll:ipv4:tcp", ""},
		{"link type with FCS bits 0x04000001", "corpus/tcpdump-tests/bootp_asan.pcap", 1, time.Time{}, "eth:ipv4:udp", ""},
		{"raw IPv6 link type 229", "corpus/tcpdump-tests/LINKTYPE_IPV6.pcap", 1, time.Time{}, "ipv6:udp:dns", "2001:db8::1"},
		{"raw IPv4 link type 101", "formats/ndpi_bjnp.pcap", 1, time.Time{}, "ipv4:udp", ""},
		{"pcapng named .pcap", "dns/ndpi_dns.pcap", 4, time.Time{}, "eth:vlan:vlan:pppoe:ppp:ipv4:udp:dns", "82.178.113.245"},
		{"pcap named .pcapng", "scans/ndpi_tcp_scan.pcapng", 1, time.Time{}, "eth:arp", ""},
		{"802.1ad QinQ", "corpus/tcpdump-tests/802.1ad_QinQ.pcap", 1, time.Time{}, "eth:vlan:vlan:arp", ""},
		{"NULL link type", "formats/ndpi_nats.pcap", 1, time.Time{}, "null:ipv4:tcp", ""},
		{"IPv6 in IPv4", "formats/ndpi_6in4tunnel.pcap", 1, time.Time{}, "eth:ipv4:ipv6:icmpv6", ""},
		{"GRE carrying PPP", "formats/ndpi_gre.pcapng", 1, time.Time{}, "eth:vlan:ipv4:gre:ppp:ipv4:udp", ""},
		{"C-HDLC carrying MPLS", "formats/ndpi_BGP_redist.pcap", 1, time.Time{}, "chdlc:mpls:ipv4:tcp", ""},
		{"link type not decoded (PPI)", "formats/ndpi_someip_sd_sample.pcap", 1, time.Time{}, "linktype192", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := frameAt(t, capturetest.Shared(t, tt.file), tt.frame)
			if !tt.time.IsZero() && !p.Time.Equal(tt.time) {
				t.Errorf("time: got %v, want %v", p.Time.UTC(), tt.time.UTC())
			}
			if p.Protocols != tt.protocols {
				t.Errorf("protocols: got %q, want %q", p.Protocols, tt.protocols)
			}
			if tt.src != "" && p.SrcIP != tt.src {
				t.Errorf("src: got %q, want %q", p.SrcIP, tt.src)
			}
			if want := tt.protocols == "linktype192"; p.Malformed != want {
				t.Errorf("malformed: got %v, want %v", p.Malformed, want)
			}
		})
	}
}

func TestNotACapture(t *testing.T) {
	text := filepath.Join(t.TempDir(), "MANIFEST.md")
	if err := os.WriteFile(text, []byte("# Captures\n\nA text file, not a capture.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, path string }{
		{"text file", text},
		{"empty file", os.DevNull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenFile(context.Background(), tt.path, Options{})
			if !errors.Is(err, ErrNotCapture) {
				t.Errorf("OpenFile error = %v, want ErrNotCapture", err)
			}
		})
	}
}

func TestEmptyPcapng(t *testing.T) {
	generated := filepath.Join(t.TempDir(), "empty.pcapng")
	capturetest.WriteNg(t, generated)
	tests := []struct {
		name string
		path func(*testing.T) string
	}{
		{"pcapgo's", func(*testing.T) string { return generated }},
		{"tcpdump's", func(t *testing.T) string { return capturetest.Shared(t, "corpus/tcpdump-tests/empty.pcapng") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := OpenFile(context.Background(), tt.path(t), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Next(); !errors.Is(err, io.EOF) {
				t.Errorf("Next() error = %v, want io.EOF", err)
			}
		})
	}
}

// recordStarts returns the byte offsets of the records (pcap) or blocks
// (pcapng, little endian) of a capture, walking their headers.
func recordStarts(t *testing.T, b []byte) []int {
	t.Helper()
	var starts []int
	if binary.LittleEndian.Uint32(b) == pcapngSHB {
		for off := 0; off+8 <= len(b); {
			starts = append(starts, off)
			off += int(binary.LittleEndian.Uint32(b[off+4:]))
		}
		return starts
	}
	for off := 24; off+16 <= len(b); {
		starts = append(starts, off)
		off += 16 + int(binary.LittleEndian.Uint32(b[off+8:]))
	}
	return starts
}

// captures runs test on a pcap and a pcapng file of at least 10 frames
// whose first two pcapng blocks are the section and the interface, with the
// pcapng file's frame count: generated ones, and real ones when the shared
// captures are here.
func captures(t *testing.T, test func(t *testing.T, pcapFile, ngFile []byte, ngFrames int64)) {
	t.Run("generated", func(t *testing.T) {
		frames := capturetest.Mixed(t)
		test(t, capturetest.Pcap(t, frames...), capturetest.Pcapng(t, frames...), int64(len(frames)))
	})
	t.Run("shared", func(t *testing.T) {
		pcapFile, err := os.ReadFile(capturetest.Shared(t, "scans/esnet_nmap_80_vanilla.pcap"))
		if err != nil {
			t.Fatal(err)
		}
		ngFile, err := os.ReadFile(capturetest.Shared(t, "formats/ndpi_http2.pcapng"))
		if err != nil {
			t.Fatal(err)
		}
		test(t, pcapFile, ngFile, 10)
	})
}

// TestDamagedFile cuts and corrupts captures in memory: every frame
// before the damage comes out, then a *FileError naming the offset and the
// frame, and it stays.
func TestDamagedFile(t *testing.T) { captures(t, testDamagedFile) }

func testDamagedFile(t *testing.T, pcapFile, ngFile []byte, _ int64) {
	pr, nr := recordStarts(t, pcapFile), recordStarts(t, ngFile)
	// Blocks 0 and 1 are the section and interface.
	corruptLen := bytes.Clone(ngFile)
	binary.LittleEndian.PutUint32(corruptLen[nr[5]+4:], 7)
	badTrailer := bytes.Clone(ngFile)
	binary.LittleEndian.PutUint32(badTrailer[nr[6]-4:], 1234)
	hugeRecord := bytes.Clone(pcapFile)
	binary.LittleEndian.PutUint32(hugeRecord[pr[3]+8:], 1<<30)
	tests := []struct {
		name   string
		data   []byte
		frames int64 // good frames before the damage
		offset int64
	}{
		{"pcap cut inside a record header", pcapFile[:pr[4]+7], 4, int64(pr[4])},
		{"pcap cut inside packet data", pcapFile[:pr[6]+20], 6, int64(pr[6])},
		{"pcap cut inside the file header", pcapFile[:10], 0, 0},
		{"pcap record length beyond any snaplen", hugeRecord, 3, int64(pr[3])},
		// The zero records before the run is long enough are frames (of 1970, which collect rejects).
		{"pcap zeroed after three records", append(bytes.Clone(pcapFile[:pr[3]]), make([]byte, 1<<20)...), 3 + maxZeroRecords - 1, int64(pr[3])},
		{"pcapng cut inside a block", ngFile[:nr[4]+30], 2, int64(nr[4])},
		{"pcapng block length out of range", corruptLen, 3, int64(nr[5])},
		{"pcapng trailing length differs", badTrailer, 3, int64(nr[5])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := newFileSource("cut.pcap", bytes.NewReader(tt.data), Options{})
			var fe *FileError
			if err == nil {
				var n int64
				n, err = readAll(t, s)
				if n != tt.frames {
					t.Errorf("frames before the damage: got %d, want %d", n, tt.frames)
				}
				if _, again := s.Next(); !errors.As(again, &fe) {
					t.Errorf("Next after the damage: got %v, want the *FileError again", again)
				}
			}
			if !errors.As(err, &fe) {
				t.Fatalf("error: got %v, want *FileError", err)
			}
			if fe.Offset != tt.offset || fe.Frame != tt.frames+1 || fe.Path != "cut.pcap" {
				t.Errorf("FileError: got offset %d frame %d path %s, want offset %d frame %d path cut.pcap", fe.Offset, fe.Frame, fe.Path, tt.offset, tt.frames+1)
			}
		})
	}
}

// TestSkippedBlock: a pcapng packet block naming an interface that does not
// exist is passed over and counted; the blocks after it are read.
func TestSkippedBlock(t *testing.T) { captures(t, testSkippedBlock) }

func testSkippedBlock(t *testing.T, _, ngFile []byte, frames int64) {
	nr := recordStarts(t, ngFile)
	badIface := bytes.Clone(ngFile)
	binary.LittleEndian.PutUint32(badIface[nr[3]+8:], 9)
	s, err := newFileSource("bad-iface.pcapng", bytes.NewReader(badIface), Options{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := readAll(t, s)
	if !errors.Is(err, io.EOF) {
		t.Errorf("end: got %v, want io.EOF", err)
	}
	if st := s.Stats(); n != frames-1 || st.Skipped != 1 || st.Frames != frames-1 {
		t.Errorf("got %d frames, Stats %+v; want %d frames, 1 skipped", n, st, frames-1)
	}
}

// TestLayerLimit: a frame of nothing but VLAN tags keeps 32 layers and is malformed.
func TestLayerLimit(t *testing.T) {
	frame := make([]byte, 14, 14+4*1000)
	frame[12], frame[13] = 0x81, 0x00
	for range 1000 {
		frame = append(frame, 0, 1, 0x81, 0x00)
	}
	var p packet.Packet
	newDecoder(0).decode(&p, frame, linkEthernet)
	if got := strings.Count(p.Protocols, ":") + 1; got != maxLayers || !p.Malformed {
		t.Errorf("got %d layers, malformed %v; want %d, true", got, p.Malformed, maxLayers)
	}
}

// TestDamagedFrames holds frames of real captures whose damage hit decoder
// defects or differences from tshark; TestMatchesTshark checks them too.
func TestDamagedFrames(t *testing.T) {
	tests := []struct {
		name             string
		file             string
		frame            int64
		protocols        string
		srcPort, dstPort uint16
		flags            int
		qry              string
		malformed        bool
	}{
		// A question whose name ends the message: no type and class. gopacket
		// v1.1.19 read them past the slice's length (stale bytes, or a panic
		// at the end of the buffer) and reported the question; its maintained
		// fork github.com/gopacket/gopacket checks the length.
		{"dns question without type and class", "scans/evilfingers_xscan.pcap", 11498, "eth:ipv4:udp:dns", 1675, 53, -1, "", true},
		// A DNS message longer than its TCP segment: what the segment holds is
		// decoded (the question, the answers that fit) and the frame is malformed.
		{"tcp segment starting a longer dns message", "dns/malcolm_ripple20_dns_caa_records.pcap", 684, "eth:vlan:ipv6:tcp:dns", 53, 41446, 16, "64aaaa.weberdns.de", true},
		{"tcp header cut short", "malformed/ndpi_kerberos_fuzz.pcapng", 1, "ipv4:tcp", 88, 53646, 1, "", true},
		{"sll address length 227", "malformed/ndpi_reasm_crash_anon.pcapng", 8, "sll:ipv4:tcp", 51218, 21999, 16, "", false},
		{"ethertype ipv4, header version 5", "malformed/ndpi_fuzz-2006-06-26-2594.pcap", 45, "eth", 0, 0, -1, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := frameAt(t, capturetest.Shared(t, tt.file), tt.frame)
			if p.Protocols != tt.protocols || p.SrcPort != tt.srcPort || p.DstPort != tt.dstPort || p.TCPFlags != tt.flags || p.QryName != tt.qry || p.Malformed != tt.malformed {
				t.Errorf("got %s %d>%d flags %d qry %q malformed %v, want %s %d>%d flags %d qry %q malformed %v",
					p.Protocols, p.SrcPort, p.DstPort, p.TCPFlags, p.QryName, p.Malformed, tt.protocols, tt.srcPort, tt.dstPort, tt.flags, tt.qry, tt.malformed)
			}
		})
	}
}

func TestAppendDNSName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"", "<Root>"},
		{"www.example.com", "www.example.com"},
		{"a\x00b", `a\000b`},
		{"caf\xc3\xa9", `caf\195\169`},
		{`back\slash`, `back\092slash`},
	}
	for _, tt := range tests {
		if got := string(appendDNSName(nil, []byte(tt.name))); got != tt.want {
			t.Errorf("appendDNSName(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
