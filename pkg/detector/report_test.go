package detector

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestWriteTable(t *testing.T) {
	nc := Port{Port: 4444, Protocol: "tcp", State: "listen", Error: 13.8, Channel: "tcp_listen", Change: "new", Address: "0.0.0.0", Process: "nc"}
	ncWild := nc
	ncWild.Channel = "tcp_listen_wildcard"
	dns := Port{Port: 53001, Protocol: "udp", State: "established", Error: 11.5, Channel: "udp_bound", Change: "new"}
	rs := []Scored{
		{RoundID: 7, Start: time.Date(2026, 11, 12, 5, 31, 0, 0, time.UTC), Score: 1.1, Threshold: 1, Anomalous: true, Ports: []Port{nc, ncWild, dns}},
		{RoundID: 8, Start: time.Date(2026, 11, 12, 5, 32, 0, 0, time.UTC), Score: 0.4, Threshold: 1, Ports: []Port{dns}},
	}
	tests := []struct {
		name      string
		all       bool
		want      []string
		wantLines int
	}{
		{"anomalous only", false, []string{"2026-11-12 05:31:00", "ANOMALY", "4444/tcp listen 0.0.0.0 nc (new 13.8); 53001/udp established (new 11.5)", "2 rounds scored, 1 anomalous"}, 3},
		{"all", true, []string{"05:32:00  8", "0.4 / 1.0"}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteTable(&b, rs, tt.all); err != nil {
				t.Fatal(err)
			}
			got := b.String()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("table: got\n%s\nwant it to contain %q", got, w)
				}
			}
			if n := strings.Count(got, "\n"); n != tt.wantLines {
				t.Errorf("lines: got %d, want %d", n, tt.wantLines)
			}
		})
	}
}
