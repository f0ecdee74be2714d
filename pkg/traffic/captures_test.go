package traffic_test

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"testing"

	"portwatch/pkg/capture"
	"portwatch/pkg/traffic"
)

// summarizeFile sums every frame of a shared capture as one round, with
// local as the monitored side.
func summarizeFile(t *testing.T, path string, local ...string) *traffic.Summary {
	t.Helper()
	src, err := capture.OpenFile(context.Background(), "../../../shared/pcaps/"+path, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	a := traffic.New()
	for {
		p, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		a.Add(p)
	}
	l := traffic.Local{From: traffic.FromFlag}
	for _, c := range local {
		l.Prefixes = append(l.Prefixes, netip.MustParsePrefix(c))
	}
	return a.Summarize(l)
}

// The real attacks show in the figures made for them, and ordinary DNS
// and browsing leave those figures near zero.
func TestSummarizeCaptures(t *testing.T) {
	tests := []struct {
		path  string
		local []string
		check func(t *testing.T, s *traffic.Summary)
	}{
		{"attacks/slips_ssh_bruteforce.pcap", []string{"147.32.80.37/32"}, func(t *testing.T, s *traffic.Summary) {
			var got traffic.SourceStat
			for _, x := range s.Top {
				if x.Address == "147.32.80.40" {
					got = x
				}
			}
			if got.Attempts != 67 || got.AttemptHost != "147.32.80.37" || got.AttemptPort != 902 || got.Local {
				t.Errorf("brute-forcer %+v, want 67 attempts on 147.32.80.37:902 from a remote source", got)
			}
		}},
		{"attacks/stopddos_amp.dns.RRSIG.fragmented.pcap", []string{"10.10.10.10/32"}, func(t *testing.T, s *traffic.Summary) {
			// 50 resolvers' first fragments carry the UDP header; the later
			// fragments have no ports to tell.
			if want := (traffic.ReflectStat{Port: 53, Sources: 50, Packets: 543}); s.Reflect != want {
				t.Errorf("reflect %+v, want %+v: 53/udp answers nobody asked for", s.Reflect, want)
			}
		}},
		{"attacks/ppa_dosattack.pcap", []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}, func(t *testing.T, s *traffic.Summary) {
			if s.SYNSources != 100 {
				t.Errorf("SYN sources %d, want the 100 spoofed ones", s.SYNSources)
			}
		}},
		{"attacks/ppa_blaster_worm.pcap", []string{"10.0.0.0/8"}, func(t *testing.T, s *traffic.Summary) {
			if want := (traffic.BackdoorStat{Host: "10.234.2.116", Port: 4444, Peers: 1}); s.Backdoor != want {
				t.Errorf("backdoor %+v, want %+v: Blaster's shell", s.Backdoor, want)
			}
		}},
		{"dns/ndpi_dns_long_domainname.pcap", []string{"192.168.0.0/16"}, func(t *testing.T, s *traffic.Summary) {
			if s.DNS.NXDepth != 5 || s.DNS.NXName != "gmr02c.16.0.fhkfhsdkfhsk.tunnel.example.com" {
				t.Errorf("NXDOMAIN depth %d of %q, want 5 below example.com", s.DNS.NXDepth, s.DNS.NXName)
			}
		}},
		{"benchmark/mixed_real_traffic_merged.pcap", []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}, func(t *testing.T, s *traffic.Summary) {
			// 480 ordinary captures: clients dial from 4444 and 31337, servers
			// listen on 31337 and 12345, and none of it is a backdoor session.
			if s.Backdoor.Peers != 0 {
				t.Errorf("backdoor %+v, want none", s.Backdoor)
			}
		}},
		{"dns/ndpi_dns_ambiguous_names.pcap", []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}, func(t *testing.T, s *traffic.Summary) {
			// Ordinary lookups: NXDOMAIN for *.teams.microsoft.com.
			if s.DNS.NXDepth != 2 {
				t.Errorf("NXDOMAIN depth %d of %q, want 3", s.DNS.NXDepth, s.DNS.NXName)
			}
		}},
		{"dns/ndpi_googledns_android10.pcap", []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}, func(t *testing.T, s *traffic.Summary) {
			if s.Reflect.Sources > 2 || s.Spread.Hosts > 2 || s.SYNSources > 5 {
				t.Errorf("reflect %+v, spread %+v, SYN sources %d; want an ordinary client's few", s.Reflect, s.Spread, s.SYNSources)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) { tt.check(t, summarizeFile(t, tt.path, tt.local...)) })
	}
}
