// Package pcaptltest builds small capture inputs for timelines in tests,
// so that pcaptl's tests and the harness's run without the shared captures.
package pcaptltest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portwatch/internal/eval/pcaptl"
	"portwatch/pkg/capture/capturetest"
	"portwatch/pkg/packet"
)

// Scanner and Victim are the scan event's hosts; TunnelDomain is the DNS
// tunnel event's domain.
const (
	Scanner      = "198.51.100.7"
	Victim       = "192.168.1.5"
	TunnelDomain = "t.example"
)

// Inputs writes small captures into a temporary directory and returns
// them as inputs:
//
//   - bg/web.pcap: 6 web visits of 192.168.1.5, 30 s apart (6 source
//     chunks), and one frame of the scan capture, which Load must leave out;
//   - bg/dns.pcap: 4 lookups of 192.168.1.5, 20 s apart, and the first
//     frame of web.pcap again, a duplicate Load must leave out;
//   - scan.pcap (kind scan): a SYN scan of 100 ports from Scanner to Victim;
//   - tunnel.pcap (kind dns_tunnel, the frames under TunnelDomain): 30
//     lookups of long names under TunnelDomain between two of example.com.
func Inputs(t testing.TB) pcaptl.Inputs {
	t.Helper()
	dir := t.TempDir()
	scan := capturetest.SYNScan(t, capturetest.Start.Add(time.Hour), 10*time.Millisecond, Scanner, Victim, capturetest.Ports(1, 100), 22, 80)
	var web []capturetest.Frame
	for i := range 6 {
		web = append(web, visit(t, capturetest.Start.Add(time.Duration(i)*30*time.Second), uint16(50000+i))...)
	}
	web = append(web, scan[7])
	var dns []capturetest.Frame
	for i := range 4 {
		at := capturetest.Start.Add(time.Duration(i)*20*time.Second + time.Hour)
		dns = append(dns, lookup(t, at, uint16(i), fmt.Sprintf("host%d.example.com", i))...)
	}
	dns = append(dns, web[0])
	var tunnel []capturetest.Frame
	at := capturetest.Start.Add(2 * time.Hour)
	tunnel = append(tunnel, lookup(t, at, 100, "www.example.com")...)
	for i := range 30 {
		name := fmt.Sprintf("%040x.%s", i*7919, TunnelDomain)
		tunnel = append(tunnel, lookup(t, at.Add(time.Duration(i+1)*100*time.Millisecond), uint16(200+i), name)...)
	}
	tunnel = append(tunnel, lookup(t, at.Add(4*time.Second), 101, "mail.example.com")...)
	for name, frames := range map[string][]capturetest.Frame{"bg/web.pcap": web, "bg/dns.pcap": dns, "scan.pcap": scan, "tunnel.pcap": tunnel} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		capturetest.Write(t, path, frames...)
	}
	return pcaptl.Inputs{
		Dir:    dir,
		Benign: []string{"bg/web.pcap", "bg/dns.pcap"},
		Events: []pcaptl.EventSource{
			{Kind: pcaptl.Scan, Path: "scan.pcap"},
			{Kind: pcaptl.DNSTunnel, Path: "tunnel.pcap", Label: "*." + TunnelDomain,
				Keep: func(p *packet.Packet) bool { return strings.HasSuffix(p.QryName, "."+TunnelDomain) }},
		},
	}
}

// visit is a web visit from Victim's port to 93.184.216.34:443 at: handshake,
// request, response and close, over 1.2 s.
func visit(t testing.TB, at time.Time, port uint16) []capturetest.Frame {
	e := capturetest.Endpoints{Src: Victim, Dst: "93.184.216.34", SrcPort: port, DstPort: 443}
	ms := func(n int) time.Time { return at.Add(time.Duration(n) * time.Millisecond) }
	return []capturetest.Frame{
		capturetest.TCP(t, ms(0), e, capturetest.SYN, nil),
		capturetest.TCP(t, ms(20), e.Reply(), capturetest.SYN|capturetest.ACK, nil),
		capturetest.TCP(t, ms(21), e, capturetest.ACK, nil),
		capturetest.TCP(t, ms(30), e, capturetest.PSH|capturetest.ACK, []byte("hello")),
		capturetest.TCP(t, ms(400), e.Reply(), capturetest.PSH|capturetest.ACK, []byte("world")),
		capturetest.TCP(t, ms(1200), e, capturetest.FIN|capturetest.ACK, nil),
	}
}

// lookup is a query of Victim's resolver 192.168.1.1 and its answer.
func lookup(t testing.TB, at time.Time, id uint16, name string) []capturetest.Frame {
	e := capturetest.Endpoints{Src: Victim, Dst: "192.168.1.1", SrcPort: 40000 + id, DstPort: 53}
	return []capturetest.Frame{
		capturetest.DNS(t, at, e, capturetest.Query(id, name)),
		capturetest.DNS(t, at.Add(5*time.Millisecond), e.Reply(), capturetest.Response(id, name, nil, "192.0.2.10")),
	}
}
