package capture

import (
	"path/filepath"
	"testing"
)

// frameAt reads path up to frame n and returns a copy of that packet.
func frameAt(t *testing.T, path string, n int64) Packet {
	t.Helper()
	s, err := OpenFile(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for {
		p, err := s.Next()
		if err != nil {
			t.Fatalf("%s: no frame %d: %v", path, n, err)
		}
		if p.Frame == n {
			return *p
		}
	}
}

// TestDNSDefects holds frames of real captures that hit decoder defects.
func TestDNSDefects(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		frame     int64
		qry       string
		malformed bool
	}{
		// A question whose name ends the message: no type and class. gopacket
		// v1.1.19 read them past the slice's length (stale bytes, or a panic
		// at the end of the buffer) and reported the question; its maintained
		// fork github.com/gopacket/gopacket checks the length.
		{"question without type and class", "scans/evilfingers_xscan.pcap", 11498, "", true},
		// A DNS message longer than its TCP segment: what the segment holds is
		// decoded (the question, the answers that fit) and the frame is malformed.
		{"tcp segment starting a longer message", "dns/malcolm_ripple20_dns_caa_records.pcap", 684, "64aaaa.weberdns.de", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := frameAt(t, filepath.Join(pcaps, tt.file), tt.frame)
			if p.QryName != tt.qry || p.Malformed != tt.malformed {
				t.Errorf("got qry %q malformed %v, want %q %v", p.QryName, p.Malformed, tt.qry, tt.malformed)
			}
		})
	}
}
