package capture

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"portwatch/pkg/capture/capturetest"
)

// TestGeneratedCapture reads capturetest.Mixed written as pcap and as
// pcapng and checks every field of every frame: the decoder's contract on
// frames whose bytes the test knows, with no shared capture needed.
func TestGeneratedCapture(t *testing.T) {
	frames := capturetest.Mixed(t)
	type want struct {
		ms               int // after capturetest.Start
		protocols        string
		src, dst         string
		srcPort, dstPort uint16
		flags            int
		qry, resp        string
		malformed        bool
	}
	wants := []want{
		{0, "eth:ipv4:udp:dns", "10.0.0.2", "10.0.0.1", 53001, 53, -1, "www.example.com", "", false},
		{10, "eth:ipv4:udp:dns", "10.0.0.1", "10.0.0.2", 53, 53001, -1, "www.example.com", "www.example.com,web.example.net,web.example.net", false},
		{1000, "eth:ipv6:tcp", "2001:db8::2", "2001:db8::1", 50000, 443, 2, "", "", false},
		{1010, "eth:ipv6:tcp", "2001:db8::1", "2001:db8::2", 443, 50000, 18, "", "", false},
		{1020, "eth:ipv6:tcp", "2001:db8::2", "2001:db8::1", 50000, 443, 24, "", "", false},
		{1500, "eth:ipv4:udp", "10.0.0.2", "10.0.0.9", 40001, 5000, -1, "", "", false},
		{2000, "eth:ipv4:icmp", "10.0.0.2", "10.0.0.1", 0, 0, -1, "", "", false},
		{2500, "eth:ipv6:icmpv6", "2001:db8::2", "2001:db8::1", 0, 0, -1, "", "", false},
		{3000, "eth:ipv4:tcp", "10.0.0.2", "10.0.0.3", 50001, 80, -1, "", "", true},
		{500, "eth:ipv4:udp", "10.0.0.2", "10.0.0.9", 40001, 5000, -1, "", "", false},
	}
	for i, p := range capturetest.Ports(20, 4) {
		reply := 20 // RST+ACK
		if p == 22 {
			reply = 18 // SYN+ACK
		}
		ms := 4000 + 200*i
		wants = append(wants,
			want{ms, "eth:ipv4:tcp", "198.51.100.7", "10.0.0.2", 40000, p, 2, "", "", false},
			want{ms + 100, "eth:ipv4:tcp", "10.0.0.2", "198.51.100.7", p, 40000, reply, "", "", false})
	}
	if len(wants) != len(frames) {
		t.Fatalf("capturetest.Mixed has %d frames, the test expects %d", len(frames), len(wants))
	}
	dir := t.TempDir()
	for _, format := range []struct {
		name  string
		write func(testing.TB, string, ...capturetest.Frame)
	}{{"mixed.pcap", capturetest.Write}, {"mixed.pcapng", capturetest.WriteNg}} {
		t.Run(format.name, func(t *testing.T) {
			path := filepath.Join(dir, format.name)
			format.write(t, path, frames...)
			s, err := OpenFile(context.Background(), path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for i, w := range wants {
				p, err := s.Next()
				if err != nil {
					t.Fatalf("frame %d: %v", i+1, err)
				}
				checkPacket(t, p, 0)
				wantTime := capturetest.Start.Add(time.Duration(w.ms) * time.Millisecond)
				if p.Frame != int64(i+1) || !p.Time.Equal(wantTime) || p.Length != frames[i].Len() {
					t.Errorf("frame %d: got number %d time %v length %d, want %d %v %d", i+1, p.Frame, p.Time.UTC(), p.Length, i+1, wantTime, frames[i].Len())
				}
				got := want{w.ms, p.Protocols, p.SrcIP, p.DstIP, p.SrcPort, p.DstPort, p.TCPFlags, p.QryName, p.RespName, p.Malformed}
				if got != w {
					t.Errorf("frame %d:\ngot  %+v\nwant %+v", i+1, got, w)
				}
			}
			if _, err := s.Next(); !errors.Is(err, io.EOF) {
				t.Errorf("after the last frame: got %v, want io.EOF", err)
			}
			if st := s.Stats(); st.Frames != int64(len(frames)) || st.Skipped != 0 {
				t.Errorf("Stats() = %+v, want %d frames, none skipped", st, len(frames))
			}
		})
	}
}
