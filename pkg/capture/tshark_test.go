package capture

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"portwatch/pkg/packet"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"portwatch/pkg/capture/capturetest"
)

// tsharkRow is one frame as tshark dissects it. Multi-valued fields keep
// every occurrence, outermost first.
type tsharkRow struct {
	frame          int64
	tcpSrc, tcpDst []string
	udpSrc, udpDst []string
	qry, resp      []string
	answers        int
	respTypes      []string
	dnsLength      string // DNS over TCP: the message length tshark used
	length         string
	ip4Src, ip4Dst []string
	ip6Src, ip6Dst []string
	ip4HdrLen      string
	tcpFlags       []string
	protocols      string
}

// tsharkFields runs tshark on path. Reassembly and stream state are off so
// that each frame is dissected on its own, as the package does: IP
// defragmentation (tshark would show a fragmented datagram's ports and DNS
// on its last fragment), TCP desegmentation (DNS over TCP spanning
// segments) and sequence analysis (tshark does not dissect the payload of a
// segment it thinks retransmitted).
func tsharkFields(t *testing.T, tshark, path string) []tsharkRow {
	t.Helper()
	cmd := exec.Command(tshark, "-n", "-r", path,
		"-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE", "-o", "tcp.desegment_tcp_streams:FALSE", "-o", "tcp.analyze_sequence_numbers:FALSE",
		"-T", "fields", "-E", "separator=/t", "-E", "aggregator=\x1f", "-E", "quote=n",
		"-e", "frame.number", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "udp.srcport", "-e", "udp.dstport",
		"-e", "dns.qry.name", "-e", "dns.resp.name", "-e", "dns.count.answers", "-e", "tcp.flags", "-e", "frame.protocols", "-e", "dns.resp.type", "-e", "dns.length",
		"-e", "frame.len", "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "ip.hdr_len")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		// tshark exits non-zero on a damaged file after printing every frame it read.
		t.Logf("tshark %s: %v: %s", filepath.Base(path), err, strings.TrimSpace(stderr.String()))
	}
	var rows []tsharkRow
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 18 {
			t.Fatalf("tshark line has %d fields, want 18: %q", len(f), sc.Text())
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			t.Fatalf("tshark frame number %q: %v", f[0], err)
		}
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, "\x1f")
		}
		ans := 0
		if a := split(f[7]); len(a) > 0 {
			ans, _ = strconv.Atoi(a[0])
		}
		rows = append(rows, tsharkRow{frame: n, tcpSrc: split(f[1]), tcpDst: split(f[2]), udpSrc: split(f[3]), udpDst: split(f[4]),
			qry: split(f[5]), resp: split(f[6]), answers: ans, tcpFlags: split(f[8]), protocols: f[9], respTypes: split(f[10]), dnsLength: firstOr(split(f[11])),
			length: f[12], ip4Src: split(f[13]), ip4Dst: split(f[14]), ip6Src: split(f[15]), ip6Dst: split(f[16]), ip4HdrLen: firstOr(split(f[17]))})
	}
	return rows
}

// unescapeTshark turns tshark's text for a DNS name back into bytes: it
// writes bytes that are not printable as \ooo (octal) or C escapes.
func unescapeTshark(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'a':
			b.WriteByte(7)
		case 'b':
			b.WriteByte(8)
		case 'f':
			b.WriteByte(12)
		case 'n':
			b.WriteByte(10)
		case 'r':
			b.WriteByte(13)
		case 't':
			b.WriteByte(9)
		case 'v':
			b.WriteByte(11)
		case '\\':
			b.WriteByte('\\')
		default:
			if i+2 < len(s) {
				if v, err := strconv.ParseUint(s[i:i+3], 8, 8); err == nil {
					b.WriteByte(byte(v))
					i += 2
					continue
				}
			}
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// unescapeOurs undoes appendDNSName's \DDD (decimal) escapes, then, as
// tshark does, shows each byte that is not UTF-8 as U+FFFD.
func unescapeOurs(s string) string {
	var raw strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 10, 8); err == nil {
				raw.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		raw.WriteByte(s[i])
	}
	return collapse(raw.String())
}

// collapse shows bytes that are not UTF-8 as U+FFFD, one for each run:
// Go and tshark cut invalid sequences into replacement characters differently.
func collapse(s string) string {
	var b strings.Builder
	prev := false
	for _, r := range s {
		bad := r == utf8.RuneError
		if !bad || !prev {
			b.WriteRune(r)
		}
		prev = bad
	}
	return b.String()
}

// answerNames returns the frame's answer names as ours and as tshark's,
// comparable. tshark's dns.resp.name covers every resource record (answers,
// authority, additional); the API keeps the answers only. tshark shows an
// SRV record's name as service, protocol and name fields, not as
// dns.resp.name, so SRV answers are left out of both.
func answerNames(p *packet.Packet, r tsharkRow) (got, want string) {
	var ours []string
	if p.RespName != "" {
		ours = strings.Split(p.RespName, ",")
	}
	var g []string
	n := 0 // tshark's answer names
	for i, typ := range r.respTypes[:min(len(r.respTypes), r.answers)] {
		if typ == "33" {
			continue
		}
		n++
		if i < len(ours) {
			g = append(g, unescapeOurs(ours[i]))
		}
	}
	w := make([]string, 0, n)
	for _, name := range r.resp[:min(len(r.resp), n)] {
		w = append(w, collapse(unescapeTshark(name)))
	}
	return strings.Join(g, ","), strings.Join(w, ",")
}

// comparison counts what one file's comparison found.
type comparison struct {
	frames, mismatches int
	exempt             map[string]int
}

func firstOr(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// compareFrame checks one frame against tshark; it returns "" when they
// agree, an exemption reason when they differ by definition, or the mismatch.
func compareFrame(p *packet.Packet, r tsharkRow) (exempt string, mismatch string) {
	ours := strings.Split(p.Protocols, ":")
	has := func(name string) bool {
		for _, n := range ours {
			if n == name {
				return true
			}
		}
		return false
	}
	if got := strconv.Itoa(p.Length); got != r.length {
		if r.length == "2147483647" && p.Length > 2147483647 {
			return "tshark clamps a bogus wire length", ""
		}
		return "", fmt.Sprintf("length got %s, want %s", got, r.length)
	}
	if p.Malformed && !has("ipv4") && r.ip4HdrLen != "" && r.ip4HdrLen != "20" {
		// gopacket rejects an IPv4 header whose options do not parse;
		// tshark marks the options and reads on.
		return "ipv4 options gopacket rejects", ""
	}
	// The addresses are the last IP header's; if it is the k-th IPv4 (or
	// IPv6) header of the frame, tshark's k-th ip.src (ipv6.src) is the same
	// header. Headers tshark finds past ours (an ICMP error's quoted packet)
	// come later in its list.
	last, nth := "", 0
	for _, n := range ours {
		if n == "ipv4" || n == "ipv6" {
			last = n
		}
	}
	for _, n := range ours {
		if n == last {
			nth++
		}
	}
	srcs, dsts := r.ip4Src, r.ip4Dst
	if last == "ipv6" {
		srcs, dsts = r.ip6Src, r.ip6Dst
	}
	wantIPSrc, wantIPDst := "", ""
	if nth > 0 && nth <= len(srcs) && nth <= len(dsts) {
		wantIPSrc, wantIPDst = srcs[nth-1], dsts[nth-1]
	}
	if p.SrcIP != wantIPSrc || p.DstIP != wantIPDst {
		return "", fmt.Sprintf("addresses got %s>%s, want %s>%s (ours %s, tshark %s)", p.SrcIP, p.DstIP, wantIPSrc, wantIPDst, p.Protocols, r.protocols)
	}
	port := func(s string) string {
		return s
	}
	var wantSrc, wantDst string
	switch {
	case has("tcp"):
		wantSrc, wantDst = firstOr(r.tcpSrc), firstOr(r.tcpDst)
		if f, err := strconv.ParseUint(strings.TrimPrefix(firstOr(r.tcpFlags), "0x"), 16, 16); err == nil && int(f)&0x1ff != p.TCPFlags {
			return "", fmt.Sprintf("tcp flags got %#x, want %#x", p.TCPFlags, f&0x1ff)
		}
	case has("udp"):
		wantSrc, wantDst = firstOr(r.udpSrc), firstOr(r.udpDst)
	default:
		wantSrc, wantDst = firstOr(append(r.tcpSrc, r.udpSrc...)), firstOr(append(r.tcpDst, r.udpDst...))
		if wantSrc != "" || wantDst != "" {
			switch {
			case (has("icmp") || has("icmpv6")) && (strings.Contains(r.protocols, ":icmp:") || strings.Contains(r.protocols, ":icmpv6:")):
				// ICMP errors quote the offending packet's header; tshark
				// reports the quoted ports, the API only the frame's own.
				return "icmp quotes a packet", ""
			case strings.HasPrefix(p.Protocols, "linktype"):
				return "link type not decoded", ""
			}
		}
	}
	gotSrc, gotDst := "", ""
	if p.SrcPort != 0 || p.DstPort != 0 || wantSrc != "" {
		gotSrc, gotDst = port(strconv.Itoa(int(p.SrcPort))), strconv.Itoa(int(p.DstPort))
	}
	if gotSrc != wantSrc || gotDst != wantDst {
		return "", fmt.Sprintf("ports got %s>%s, want %s>%s (ours %s, tshark %s)", gotSrc, gotDst, wantSrc, wantDst, p.Protocols, r.protocols)
	}
	if !has("dns") && !has("mdns") && !has("llmnr") && len(r.qry)+len(r.resp) > 0 && dnsPort(p.SrcPort, p.DstPort) == "" &&
		!strings.Contains(r.protocols, ":vxlan:") && !strings.Contains(r.protocols, ":teredo:") && !strings.Contains(r.protocols, ":gtp:") {
		// tshark also finds DNS on other ports by following a conversation
		// it saw start on port 53; the API decodes DNS by port only.
		return "dns on a port other than 53, 5353, 5355", ""
	}
	if !has("dns") && !has("mdns") && !has("llmnr") && len(r.qry)+len(r.resp) > 0 {
		for _, tunnel := range []string{":vxlan:", ":teredo:", ":gtp:", ":geneve:", ":capwap."} {
			if strings.Contains(r.protocols, tunnel) {
				// The API decodes no further than the first UDP header.
				return "dns inside a tunnel over udp", ""
			}
		}
	}
	if has("tcp") && len(p.Payload) == 2 && r.dnsLength != "" && r.dnsLength != strconv.Itoa(int(p.Payload[0])<<8|int(p.Payload[1])) {
		// tshark follows DNS message boundaries across TCP segments; the
		// API reads each segment as starting a message.
		return "tcp segment continues a dns message", ""
	}
	gotQry, wantQry := unescapeOurs(p.QryName), collapse(unescapeTshark(firstOr(r.qry)))
	gotResp, wantResp := answerNames(p, r)
	if p.Malformed {
		// gopacket stops at the first record it cannot decode; tshark marks
		// that record and goes on. Ours must be what tshark read up to there.
		if gotQry != "" && gotQry != wantQry {
			return "", fmt.Sprintf("qry_name of a malformed frame got %q, want %q", gotQry, wantQry)
		}
		if !strings.HasPrefix(wantResp, gotResp) {
			return "", fmt.Sprintf("resp_name of a malformed frame got %q, want a prefix of %q", gotResp, wantResp)
		}
		if gotQry != wantQry || gotResp != wantResp {
			return "malformed dns: gopacket stops earlier than tshark", ""
		}
		return "", ""
	}
	if gotQry != wantQry {
		return "", fmt.Sprintf("qry_name got %q, want %q (ours %s, tshark %s)", gotQry, wantQry, p.Protocols, r.protocols)
	}
	if gotResp != wantResp {
		return "", fmt.Sprintf("resp_name got %q, want %q (ours %s, tshark %s)", gotResp, wantResp, p.Protocols, r.protocols)
	}
	return "", ""
}

func compareFile(t *testing.T, tshark, path string) comparison {
	t.Helper()
	c := comparison{exempt: map[string]int{}}
	rows := tsharkFields(t, tshark, path)
	// Two payload bytes: a DNS-over-TCP segment's length prefix.
	s, err := OpenFile(context.Background(), path, Options{PayloadBytes: 2})
	if err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	defer s.Close()
	for {
		p, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var fe *FileError
		if errors.As(err, &fe) && fe.Frame == int64(len(rows)) {
			// tshark shows a record cut short as a frame; the API stops
			// with *FileError before it.
			c.exempt["tshark shows the cut record"]++
			rows = rows[:len(rows)-1]
			break
		}
		if err != nil {
			t.Errorf("Next after %d frames: %v", c.frames, err)
			break
		}
		c.frames++
		if c.frames > len(rows) {
			continue
		}
		r := rows[c.frames-1]
		if r.frame != p.Frame {
			t.Fatalf("frame %d: tshark row is frame %d", p.Frame, r.frame)
		}
		exempt, mismatch := compareFrame(p, r)
		if exempt != "" {
			c.exempt[exempt]++
		}
		if mismatch != "" {
			c.mismatches++
			if c.mismatches <= 5 {
				t.Errorf("frame %d: %s", p.Frame, mismatch)
			}
		}
	}
	if got, want := c.frames, len(rows); got != want {
		t.Errorf("frames: got %d, want %d (tshark)", got, want)
	}
	return c
}

func TestMatchesTshark(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tshark over ~105 capture files")
	}
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed: nothing to compare with")
	}
	var files []string
	for _, dir := range []string{"scans", "dns", "formats", "attacks", "malformed"} {
		m, err := filepath.Glob(filepath.Join(capturetest.Shared(t, dir), "*.pcap*"))
		if err != nil || len(m) == 0 {
			t.Fatalf("no captures in %s: %v", dir, err)
		}
		files = append(files, m...)
	}
	total := comparison{exempt: map[string]int{}}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c := compareFile(t, tshark, f)
			total.frames += c.frames
			total.mismatches += c.mismatches
			for k, v := range c.exempt {
				total.exempt[k] += v
			}
		})
	}
	t.Logf("tshark comparison: %d files, %d frames, %d mismatches, exempt by definition: %v", len(files), total.frames, total.mismatches, total.exempt)
}
