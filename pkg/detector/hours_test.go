package detector

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"portwatch/pkg/features"
	"portwatch/pkg/modelfile"
	"portwatch/pkg/sock"
	"portwatch/pkg/store"
)

// A backup daemon that listened only 02:00-03:00 in three days of training
// is unusual at 14:00 and usual at 02:30; sshd, always on, is usual at any
// hour; a port never seen listening is left to the peak statistic.
func TestHourSurprise(t *testing.T) {
	l, err := features.NewLayout(modelfile.DefaultChannels())
	if err != nil {
		t.Fatal(err)
	}
	sshd := sock.Socket{Port: 22, Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr("0.0.0.0"), State: sock.Listen, Process: "sshd"}
	rsync := sock.Socket{Port: 873, Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr("0.0.0.0"), State: sock.Listen, Process: "rsync"}
	start := time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC)
	var rounds []store.Round
	for i := range 3 * 24 * 60 {
		at := start.Add(time.Duration(i) * time.Minute)
		r := store.Round{ID: int64(i + 1), Start: at, Sockets: []sock.Socket{sshd}}
		if at.Hour() == 2 {
			r.Sockets = append(r.Sockets, rsync)
		}
		rounds = append(rounds, r)
	}
	ws, err := features.Windows(rounds, 1)
	if err != nil {
		t.Fatal(err)
	}
	h := countHours(l, ws)
	round := func(hour int, socks ...sock.Socket) *store.Round {
		return &store.Round{Start: time.Date(2026, 11, 12, hour, 30, 0, 0, time.UTC), Sockets: socks}
	}
	usual, _ := h.surprise(l, round(2, sshd, rsync))
	unusual, cell := h.surprise(l, round(14, sshd, rsync))
	if usual > 1.5 {
		t.Errorf("rsync at 02:30: got surprise %.2f nats, want under 1.5 (a third of the rounds of 01:00-04:00)", usual)
	}
	// Rate at most the all-day rate (1/24) over the 540 rounds of 13:00-15:00.
	if unusual < 9 {
		t.Errorf("rsync at 14:30: got surprise %.2f nats, want at least 9", unusual)
	}
	if cell == nil || cell.Port != 873 {
		t.Errorf("rsync at 14:30: got cell %+v, want port 873", cell)
	}
	if s, _ := h.surprise(l, round(14, sshd)); s > 0.01 {
		t.Errorf("sshd at 14:30: got surprise %.2f nats, want about 0", s)
	}
	nc := sock.Socket{Port: 4444, Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr("0.0.0.0"), State: sock.Listen}
	if s, cell := h.surprise(l, round(14, sshd, nc)); cell == nil || cell.Port != 22 || s > 0.01 {
		t.Errorf("a never-seen listener at 14:30: got %.2f nats on %+v, want it skipped", s, cell)
	}

	// The verdict names the listener and the hour, first, once however
	// often it is judged.
	p := explainHour(l, round(14, sshd, rsync), cell, unusual)
	if p.Port != 873 || p.Change != "unusual hour" || p.Process != "rsync" || p.State != "listen" {
		t.Errorf("explanation: got %+v, want 873/tcp listen rsync (unusual hour)", p)
	}
	normal := []stats{{Total: 10, Peak: 5, Hour: usual}, {Total: 12, Peak: 6, Hour: usual}}
	cal, err := calibrate(normal, 1e-4)
	if err != nil {
		t.Fatal(err)
	}
	other := Port{Port: 45000, Protocol: "tcp", State: "time-wait", Change: "new", Error: 3}
	rs := []Scored{
		{stats: stats{Total: 11, Peak: 5, Hour: unusual}, Ports: []Port{other}, hourPort: p},
		{stats: stats{Total: 11, Peak: 5, Hour: usual}, Ports: []Port{other}, hourPort: p},
	}
	judge(rs, cal)
	judge(rs, cal)
	if r := rs[0]; !r.Anomalous || len(r.Ports) != 2 || r.Ports[0] != *p {
		t.Errorf("rsync at 14:30: got anomalous %v, ports %+v; want flagged, rsync named first once", r.Anomalous, r.Ports)
	}
	if got := portsText(rs[0].Ports, tablePorts); !strings.HasPrefix(got, "873/tcp listen 0.0.0.0 rsync (unusual hour ") {
		t.Errorf("table text: got %q, want rsync's unusual hour first", got)
	}
	if r := rs[1]; r.Anomalous || len(r.Ports) != 1 {
		t.Errorf("rsync at 02:30: got anomalous %v, ports %+v; want normal, unchanged", r.Anomalous, r.Ports)
	}
}

func TestCyclicDistance(t *testing.T) {
	for _, c := range []struct{ a, b, want int }{{2, 2, 0}, {2, 3, 1}, {23, 0, 1}, {0, 23, 1}, {1, 13, 12}, {14, 2, 12}, {20, 1, 5}} {
		if got := cyclicDistance(c.a, c.b, 24); got != c.want {
			t.Errorf("cyclicDistance(%d, %d, 24): got %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
