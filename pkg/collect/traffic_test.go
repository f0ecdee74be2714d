package collect_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"portwatch/pkg/capture/capturetest"
	"portwatch/pkg/collect"
	"portwatch/pkg/store"
	"portwatch/pkg/store/storetest"
)

// ingest runs collect on paths (rounds of r) and returns the database.
func ingest(t *testing.T, r time.Duration, local []netip.Prefix, paths ...string) *store.DB {
	t.Helper()
	o := options(t, paths...)
	o.Round, o.Local = r, local
	if _, err := collect.Collect(context.Background(), o, quiet()); err != nil {
		t.Fatal(err)
	}
	return storetest.Open(t, o.DB)
}

// rows returns a query's rows as text, one "|"-joined line each.
func rows(t *testing.T, db *store.DB, query string, args ...any) []string {
	t.Helper()
	rs, err := storetest.Raw(t, db).Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out []string
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b []string
		for _, v := range vals {
			if f, ok := v.(float64); ok {
				v = fmt.Sprintf("%.3g", f)
			}
			b = append(b, fmt.Sprint(v))
		}
		out = append(out, strings.Join(b, "|"))
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func oneRow(t *testing.T, db *store.DB, query string, want string) {
	t.Helper()
	if got := rows(t, db, query); len(got) != 1 || got[0] != want {
		t.Errorf("%s:\ngot  %q\nwant %q", query, got, want)
	}
}

// TestTrafficSummaryGenerated ingests generated captures of each kind and
// checks the summary tables collect wrote for them.
func TestTrafficSummaryGenerated(t *testing.T) {
	at := func(ms int) time.Time { return capturetest.Start.Add(time.Duration(ms) * time.Millisecond) }
	var flood, tunnel, oneWay, noIP []capturetest.Frame
	for i := range 300 {
		src := fmt.Sprintf("203.0.113.%d", i%250+1)
		if i >= 250 {
			src = fmt.Sprintf("198.51.100.%d", i-249)
		}
		flood = append(flood, capturetest.TCP(t, at(i), capturetest.Endpoints{Src: src, Dst: "10.0.0.2", SrcPort: uint16(1024 + i), DstPort: 80}, capturetest.SYN, nil))
	}
	resolver := capturetest.Endpoints{Src: "10.0.0.2", Dst: "10.0.0.1", SrcPort: 53001, DstPort: 53}
	for i := range 50 {
		name := fmt.Sprintf("%s.pirate.sea", strings.Repeat(string(rune('a'+i%26)), 40)+fmt.Sprintf("%020d", i*7919))
		q := capturetest.Query(uint16(i), name)
		q.Questions[0].Type = 16 // TXT
		tunnel = append(tunnel, capturetest.DNS(t, at(i*10), resolver, q))
		r := capturetest.Response(uint16(i), name, nil)
		r.ResponseCode = 3 // NXDOMAIN
		tunnel = append(tunnel, capturetest.DNS(t, at(i*10+5), resolver.Reply(), r))
	}
	for i := range 20 {
		oneWay = append(oneWay, capturetest.UDP(t, at(i*10), capturetest.Endpoints{Src: "10.0.0.2", Dst: "192.0.2.9", SrcPort: 40000, DstPort: 514}, []byte("log")))
	}
	for i := range 5 {
		noIP = append(noIP, capturetest.ARP(t, at(i), "10.0.0.2", fmt.Sprintf("10.0.0.%d", 10+i)))
	}
	unreach := capturetest.Unreachable(t, at(0), capturetest.Endpoints{Src: "10.0.0.2", Dst: "198.51.100.7"})

	t.Run("SYN scan fan-out, inferred target", func(t *testing.T) {
		db := ingest(t, time.Minute, nil, capturetest.Temp(t, "scan.pcap", capturetest.Scan(t, 500)...))
		oneRow(t, db, "SELECT local_from, local_addrs FROM rounds", "inferred|10.0.0.2")
		oneRow(t, db, "SELECT address, local_ports, local_hosts, syns FROM traffic_sources", "198.51.100.7|500|1|500")
		oneRow(t, db, "SELECT count(*), sum(syns), max(peers) FROM traffic_ports WHERE direction = 'in'", "500|500|1")
		oneRow(t, db, "SELECT packets, sources, coalesce(note, '') FROM traffic_rounds", "1000|1|")
	})
	t.Run("--local names the monitored side", func(t *testing.T) {
		db := ingest(t, time.Minute, []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")},
			capturetest.Temp(t, "scan.pcap", capturetest.Scan(t, 50)...))
		oneRow(t, db, "SELECT local_from, local_addrs FROM rounds", "flag|198.51.100.0/24")
		// Seen from the scanner: its SYNs go out, the target's replies come in to port 40000.
		oneRow(t, db, "SELECT direction, sum(syns) FROM traffic_ports WHERE port <> 40000 GROUP BY direction", "out|50")
		oneRow(t, db, "SELECT count(*) FROM traffic_sources", "0")
	})
	t.Run("flood from many sources", func(t *testing.T) {
		db := ingest(t, time.Minute, nil, capturetest.Temp(t, "flood.pcap", flood...))
		oneRow(t, db, "SELECT local_addrs FROM rounds", "10.0.0.2")
		oneRow(t, db, "SELECT port, direction, packets, syns, peers FROM traffic_ports", "80|in|300|300|300")
		oneRow(t, db, "SELECT sources, note FROM traffic_rounds", "300|one direction only: nothing from a local address")
	})
	t.Run("DNS with long labels", func(t *testing.T) {
		db := ingest(t, time.Minute, []netip.Prefix{netip.MustParsePrefix("10.0.0.2/32")}, capturetest.Temp(t, "dns.pcap", tunnel...))
		oneRow(t, db, `SELECT dns_queries, dns_responses, dns_names, dns_max_label, dns_txt_null_share, dns_nxdomain_share
			FROM traffic_rounds`, "50|50|50|60|1|1")
		oneRow(t, db, "SELECT domain, queries, names, max_label FROM traffic_dns", "pirate.sea|50|50|60")
	})
	t.Run("one direction, a single packet, no IP", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			frames []capturetest.Frame
			want   string
		}{
			{"oneway.pcap", oneWay, "20|20|0|one direction only: nothing to a local address"},
			{"single.pcap", oneWay[:1], "1|1|0|one direction only: nothing to a local address"},
			{"noip.pcap", noIP, "5|0|0|no IP traffic"},
			{"unreach.pcap", []capturetest.Frame{unreach}, "1|1|1|no TCP or UDP traffic of a local address"},
		} {
			db := ingest(t, time.Minute, []netip.Prefix{netip.MustParsePrefix("10.0.0.2/32")}, capturetest.Temp(t, c.name, c.frames...))
			oneRow(t, db, "SELECT packets, ip_packets, icmp_unreachable, note FROM traffic_rounds", c.want)
			oneRow(t, db, "SELECT status FROM rounds", "complete")
		}
	})
}

// TestTrafficBackwardsTime: a frame whose time goes back stays in the
// current round and opens none.
func TestTrafficBackwardsTime(t *testing.T) {
	at := func(ms int) time.Time { return capturetest.Start.Add(time.Duration(ms) * time.Millisecond) }
	e := capturetest.Endpoints{Src: "10.0.0.2", Dst: "10.0.0.1", SrcPort: 1, DstPort: 2}
	var frames []capturetest.Frame
	for _, ms := range []int{0, 1500, 200, 100, 1600, 50} {
		frames = append(frames, capturetest.UDP(t, at(ms), e, nil))
	}
	db := ingest(t, time.Second, nil, capturetest.Temp(t, "back.pcap", frames...))
	if got := rows(t, db, "SELECT r.frames, t.packets FROM rounds r JOIN traffic_rounds t ON t.round_id = r.id ORDER BY r.id"); strings.Join(got, " ") != "1|1 5|5" {
		t.Errorf("rounds (frames|summary packets) %v, want 1|1 5|5", got)
	}
}

// TestTrafficRealCaptures checks the summary of real captures against
// their ground truth (../shared/pcaps/MANIFEST.md).
func TestTrafficRealCaptures(t *testing.T) {
	t.Run("nmap SYN scan", func(t *testing.T) {
		db := ingest(t, time.Minute, nil, shared(t, "scans/evilfingers_nmap_tcp_syn_scan.pcap")...)
		oneRow(t, db, "SELECT local_addrs FROM rounds", "192.168.1.25")
		// 1,002 SYN over 1,000 ports from 192.168.1.10; 5 open ports answered SYN-ACK.
		oneRow(t, db, "SELECT address, local_ports, local_hosts, syns FROM traffic_sources", "192.168.1.10|1000|1|1002")
		oneRow(t, db, "SELECT count(*) FROM traffic_ports WHERE direction = 'out' AND port = 40000 AND syns = 0", "0")
	})
	t.Run("DNS tunnel among ordinary DNS", func(t *testing.T) {
		db := ingest(t, time.Minute, nil, shared(t, "dns/malcolm_DNS_merged.pcap")...)
		if got := rows(t, db, "SELECT domain, names FROM traffic_dns ORDER BY names DESC LIMIT 1"); len(got) != 1 || !strings.HasPrefix(got[0], "pirate.sea|") {
			t.Errorf("widest domain %v, want pirate.sea", got)
		}
		oneRow(t, db, "SELECT max(dns_max_label) >= 60, max(dns_txt_null_share) > 0.5, min(dns_txt_null_share) FROM traffic_rounds", "1|1|0")
	})
}
