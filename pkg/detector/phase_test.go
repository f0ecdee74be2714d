package detector

import (
	"context"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"portwatch/pkg/detector/detectortest"
	"portwatch/pkg/features"
	"portwatch/pkg/modelfile"
	"portwatch/pkg/sock"
	"portwatch/pkg/store"
)

// phaseHistory is three days of minute rounds of a host with sshd always
// listening, a batch job's admin port 8167 listening at minutes 26 and 27
// of every hour, a dev server 3000 that listened once, for 20 minutes, and
// client connections opened: 20 a round by night (00-06h), 60 by day, 200
// more at minute 0 of every hour, and a scrape opening 30 at minute 30 of
// every hour (whatever the hour: 2.5x the night's, 1.5x the day's).
func phaseHistory(t *testing.T) (features.Layout, *phase) {
	t.Helper()
	l, err := features.NewLayout(modelfile.DefaultChannels())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC)
	var rounds []store.Round
	for i := range 3 * 24 * 60 {
		at := start.Add(time.Duration(i) * time.Minute)
		r := store.Round{ID: int64(i + 1), Start: at, Sockets: []sock.Socket{listener4(22, "sshd")}}
		if m := at.Minute(); m == 26 || m == 27 {
			r.Sockets = append(r.Sockets, listener4(8167, "batch-admin"))
		}
		if i >= 600 && i < 620 {
			r.Sockets = append(r.Sockets, listener4(3000, "node"))
		}
		r.Sockets = append(r.Sockets, clients(i, usualConns(at))...)
		rounds = append(rounds, r)
	}
	ws, err := features.Windows(rounds, 2)
	if err != nil {
		t.Fatal(err)
	}
	return l, countPhase(l, ws)
}

func usualConns(at time.Time) int {
	n := 60
	if at.Hour() < 6 {
		n = 20
	}
	switch at.Minute() {
	case 0:
		n += 200
	case 30:
		n += 30
	}
	return n
}

func listener4(port uint16, process string) sock.Socket {
	return sock.Socket{Port: port, Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr("0.0.0.0"), State: sock.Listen, Process: process}
}

// clients returns round i's n established client sockets: fresh ports
// each round, from 32768 up, round after round.
func clients(i, n int) []sock.Socket {
	out := make([]sock.Socket, n)
	first := 32768 + i%2*300
	for j := range out {
		out[j] = sock.Socket{Port: uint16(first + j), Protocol: sock.TCP, Family: 4,
			Address: netip.MustParseAddr("192.0.2.1"), State: sock.Established, Process: "client"}
	}
	return out
}

// A listener that starts at minute 26 of every hour is usual starting at
// 26 or 27 and unusual at 7; one that started once has no phase and is not
// judged, nor is one never seen starting; a listener already there in the
// round before is not starting.
func TestPhaseStart(t *testing.T) {
	l, p := phaseHistory(t)
	at := func(min int) time.Time { return time.Date(2026, 11, 12, 14, min, 0, 0, time.UTC) }
	window := func(min int, before, now []sock.Socket) features.Window {
		return features.Window{Rounds: []*store.Round{
			{Start: at(min).Add(-time.Minute), Sockets: before},
			{Start: at(min), Sockets: now},
		}}
	}
	sshd, admin, dev := listener4(22, "sshd"), listener4(8167, "batch-admin"), listener4(3000, "node")
	tests := []struct {
		name         string
		min          int
		before, now  []sock.Socket
		atLeast, max float64
		port         uint16 // the cell named; 0: none
	}{
		{"admin at its minute", 26, []sock.Socket{sshd}, []sock.Socket{sshd, admin}, 0, 0.01, 8167},
		{"admin a minute late", 27, []sock.Socket{sshd}, []sock.Socket{sshd, admin}, 0, 0.01, 8167},
		{"admin at minute 7", 7, []sock.Socket{sshd}, []sock.Socket{sshd, admin}, 3, math.Inf(1), 8167},
		{"admin listening on", 7, []sock.Socket{sshd, admin}, []sock.Socket{sshd, admin}, 0, 0, 0},
		{"dev server at another time", 45, []sock.Socket{sshd}, []sock.Socket{sshd, dev}, 0, 0, 0}, // started once: no phase
		{"never seen starting", 7, nil, []sock.Socket{sshd, listener4(4444, "nc")}, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, cell := p.start(l, window(tt.min, tt.before, tt.now))
			if s < tt.atLeast || s > tt.max {
				t.Errorf("surprise %.3f nats, want %.2f..%.2f", s, tt.atLeast, tt.max)
			}
			switch {
			case tt.port == 0 && cell != nil:
				t.Errorf("cell %+v, want none", cell)
			case tt.port != 0 && (cell == nil || cell.Port != tt.port):
				t.Errorf("cell %+v, want port %d", cell, tt.port)
			}
		})
	}
}

// The hourly job's 260 connections are usual at minute 0 (and, a cron job
// running late, at minute 1), and far past the usual at minute 20; by night
// the job is far past the usual sooner; the scrape's 30 are usual at minute
// 30 by night, where it is most of the minute's connections; fewer than
// usual is no evidence; connections the round before had already are not
// opened; a host with no history foresees nothing.
func TestPhaseLoad(t *testing.T) {
	_, p := phaseHistory(t)
	window := func(hour, min, n int) features.Window {
		at := time.Date(2026, 11, 12, hour, min, 0, 0, time.UTC)
		return features.Window{Rounds: []*store.Round{{Start: at.Add(-time.Minute)}, {Start: at, Sockets: clients(0, n)}}}
	}
	tests := []struct {
		name         string
		w            features.Window
		atLeast, max float64
	}{
		{"the job at minute 0", window(14, 0, 260), 0, 1},
		{"the job at minute 1", window(14, 1, 260), 0, 1},
		{"a usual minute", window(14, 20, 62), 0, 1},
		{"the job at minute 20", window(14, 20, 260), 150, math.Inf(1)},
		{"the job at minute 20 by night", window(3, 20, 220), 250, math.Inf(1)},
		{"the scrape by night", window(3, 30, 50), 0, 1},
		{"a quiet minute", window(14, 20, 10), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := p.usual(tt.w)
			if d := u.deviance(); d < tt.atLeast || d > tt.max || math.IsNaN(d) {
				t.Errorf("deviance %.2f (%.0f connections, %.1f usual), want %.0f..%.0f", d, u.N, u.Mu, tt.atLeast, tt.max)
			}
		})
	}
	still := window(14, 20, 260)
	still.Rounds[0].Sockets = clients(0, 260)
	if u := p.usual(still); u.N != 0 || topOpener(still) != "" {
		t.Errorf("260 connections open since the round before: %.0f opened by %q, want none", u.N, topOpener(still))
	}
	u := p.usual(window(14, 20, 260))
	if f := u.finding(10); f.Kind != "burst" || f.Process != "client" ||
		!strings.Contains(f.Text, "260 client connections opened at 14:20 UTC") || !strings.HasSuffix(f.Text, ", most by client") {
		t.Errorf("finding %+v, want a burst of 260 client connections at 14:20", f)
	}
	empty := &phase{Starts: map[string][60]int{}}
	if d := empty.usual(window(14, 20, 260)).deviance(); d != 0 {
		t.Errorf("no history: deviance %.2f, want 0", d)
	}
}

// A round past the start limit names the listener at its unusual minute
// first; one past the load limit tells the burst first among its findings;
// a round under both is left as it was.
func TestPhaseJudge(t *testing.T) {
	l, p := phaseHistory(t)
	at := time.Date(2026, 11, 12, 14, 7, 0, 0, time.UTC)
	sshd, admin := listener4(22, "sshd"), listener4(8167, "batch-admin")
	w := features.Window{Rounds: []*store.Round{
		{Start: at.Add(-time.Minute), Sockets: []sock.Socket{sshd}},
		{Start: at, Sockets: append([]sock.Socket{sshd, admin}, clients(0, 260)...)},
	}}
	start, cell := p.start(l, w)
	if cell == nil {
		t.Fatal("the admin port starting at minute 7: no cell")
	}
	load := p.usual(w)
	cal, err := calibrate([]stats{{Total: 10, Peak: 5}, {Total: 12, Peak: 6}}, 1e-4)
	if err != nil {
		t.Fatal(err)
	}
	other := Port{Port: 45000, Protocol: "tcp", State: "established", Change: "new", Error: 3}
	startPort := explainStart(l, w.Last(), cell, start)
	rs := []Scored{
		{stats: stats{Total: 11, Peak: 5, Start: start, Load: load.deviance()}, Ports: []Port{other}, startPort: startPort, load: load},
		{stats: stats{Total: 11, Peak: 5}, Ports: []Port{other}, startPort: startPort, load: load},
	}
	judge(rs, cal)
	r := rs[0]
	if !r.Anomalous || len(r.Ports) != 2 || r.Ports[0].Port != 8167 || r.Ports[0].Change != "unusual minute" || !r.Ports[0].Over {
		t.Errorf("admin at minute 7: anomalous %v, ports %+v; want flagged, 8167 first as an unusual minute past its limit", r.Anomalous, r.Ports)
	}
	if len(r.Traffic) == 0 || r.Traffic[0].Kind != "burst" || r.Traffic[0].Limit != cal.loadLimit() {
		t.Errorf("260 connections at minute 7: findings %+v, want the burst first", r.Traffic)
	}
	if got := causesText(r); !strings.HasPrefix(got, "260 client connections opened at 14:07 UTC") || !strings.Contains(got, "8167/tcp listen 0.0.0.0 batch-admin (unusual minute") {
		t.Errorf("table text %q, want the burst, then the admin port's unusual minute", got)
	}
	if r := rs[1]; r.Anomalous || len(r.Ports) != 1 || len(r.Traffic) != 0 {
		t.Errorf("a round under both limits: anomalous %v, ports %+v, findings %+v; want it unchanged", r.Anomalous, r.Ports, r.Traffic)
	}
}

// A model file from before the phase statistics (no portwatch.phase, no
// start or load limits) is scored and refit on without them, and stays so
// until detect --train builds a new one.
func TestModelFromBeforePhase(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	ctx := context.Background()
	const trained, total = 150, 175
	h := detectortest.New(t, total, trained, 160, 166)
	d := newDetector(h)
	if _, err := d.Run(ctx, h.DB); err != nil {
		t.Fatal(err)
	}
	m, err := loadModel(h.Model, 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.phase == nil || m.cal.Start == nil || m.cal.Load == nil {
		t.Fatalf("a new model: phase %v, start %v, load %v; want all three", m.phase != nil, m.cal.Start, m.cal.Load)
	}
	m.phase, m.cal.Start, m.cal.Load = nil, nil, nil
	if err := m.save(h.Model); err != nil {
		t.Fatal(err)
	}
	h.Release(t, total)
	res, err := d.Run(ctx, h.DB)
	if err != nil {
		t.Fatalf("cron run on a model from before the phase statistics: %v", err)
	}
	if !res.Refit || len(res.Rounds) != total-trained {
		t.Errorf("got refit %v, %d rounds scored; want a refit, %d", res.Refit, len(res.Rounds), total-trained)
	}
	for _, r := range res.Rounds {
		if r.stats.Start != 0 || r.Load != 0 {
			t.Fatalf("round %d: start %.2f, load %.2f; want none without the phase counts", r.RoundID, r.stats.Start, r.Load)
		}
	}
	if m, err = loadModel(h.Model, 1); err != nil || m.phase != nil {
		t.Errorf("after the refit: %v, phase %v; want the file still without phase counts", err, m != nil && m.phase != nil)
	}
}

// However far refits have raised the largest normal peak, a port the model
// rules out (-ln eps) still passes the peak and hour limits.
func TestBoundedLimitCap(t *testing.T) {
	for _, largest := range []float64{5, 12, 13.5, 20} {
		if got := boundedLimit(largest); got >= -math.Log(eps) || got > largest+math.Ln2 {
			t.Errorf("largest normal %.1f: limit %.2f, want under -ln eps (%.2f) and at most %.2f", largest, got, -math.Log(eps), largest+math.Ln2)
		}
	}
	if got := boundedLimit(5); got != 5+math.Ln2 {
		t.Errorf("largest normal 5: limit %.3f, want 5 + ln 2", got)
	}
}

// A weekly job seen once in training (Tuesday 03:20-03:40, 120 connections
// a minute on top of the usual 20, the host asleep from then to 05:00) is
// usual at its day and time the next week, and running on into the minutes
// the host slept through, and as far past the usual on another day, or
// later on its day, as a model without the week's counts finds it on its
// own day; a model file from before the week's counts gains them with its
// first refit.
func TestPhaseWeekly(t *testing.T) {
	l, err := features.NewLayout(modelfile.DefaultChannels())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC) // a Monday
	job := func(at time.Time) bool {
		return at.Weekday() == time.Tuesday && at.Hour() == 3 && at.Minute() >= 20 && at.Minute() < 40
	}
	var rounds []store.Round
	for i := range 8 * 24 * 60 {
		at := start.Add(time.Duration(i) * time.Minute)
		if at.Weekday() == time.Tuesday && at.Hour()*60+at.Minute() >= 3*60+40 && at.Hour() < 5 {
			continue // asleep
		}
		n := 20
		if job(at) {
			n += 120
		}
		rounds = append(rounds, store.Round{ID: int64(i + 1), Start: at, Sockets: clients(i, n)})
	}
	ws, err := features.Windows(rounds, 2)
	if err != nil {
		t.Fatal(err)
	}
	p := countPhase(l, ws)
	window := func(day, n int, clock ...int) features.Window {
		at := time.Date(2026, 11, day, 3, 30, 0, 0, time.UTC)
		if len(clock) == 2 {
			at = time.Date(2026, 11, day, clock[0], clock[1], 0, 0, time.UTC)
		}
		return features.Window{Rounds: []*store.Round{{Start: at.Add(-time.Minute)}, {Start: at, Sockets: clients(0, n)}}}
	}
	noWeek := *p
	noWeek.Week = nil
	tests := []struct {
		name         string
		p            *phase
		w            features.Window
		atLeast, max float64
	}{
		{"the job on its day", p, window(17, 140), 0, 5},
		{"the job on another day", p, window(18, 140), 100, math.Inf(1)},
		{"the job running on while the host slept", p, window(17, 140, 3, 52), 0, 5},
		{"the job a half hour after its last minute", p, window(17, 140, 4, 10), 100, math.Inf(1)},
		{"the job twenty minutes before its first", p, window(17, 140, 2, 58), 100, math.Inf(1)},
		{"the job after the host woke", p, window(17, 140, 5, 5), 100, math.Inf(1)},
		{"a usual minute on its day", p, window(17, 21), 0, 1},
		{"the job on its day, no week's counts", &noWeek, window(17, 140), 100, math.Inf(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.p.usual(tt.w)
			if d := u.deviance(); d < tt.atLeast || d > tt.max || math.IsNaN(d) {
				t.Errorf("deviance %.2f (%.0f connections, %.1f usual), want %.0f..%.0f", d, u.N, u.Mu, tt.atLeast, tt.max)
			}
		})
	}
	noWeek.add(l, ws[:60])
	if noWeek.Week == nil || noWeek.Week.Rounds[time.Monday][0][30] != 1 {
		t.Errorf("a refit of a file without the week's counts: %+v, want them started with the refit's rounds", noWeek.Week)
	}
}

// opener returns n established client sockets of process, from port first up.
func opener(process string, first, n int) []sock.Socket {
	out := clients(0, n)
	for j := range out {
		out[j].Port, out[j].Process = uint16(first+j), process
	}
	return out
}

// A batch job that connects at minute 0 of every hour (and a client that
// connects every minute) makes the job connecting at minute 23 a surprise,
// however few its connections, and the job at its minute none, while the
// client (connecting at every minute: no phase), a program never seen
// connecting and the nightly backup (02:01-02:12) at minute 14 are not
// judged; a round past the start limit for it
// tells the job's burst first.
func TestPhaseOpener(t *testing.T) {
	l, err := features.NewLayout(modelfile.DefaultChannels())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC)
	var rounds []store.Round
	for i := range 3 * 24 * 60 {
		at := start.Add(time.Duration(i) * time.Minute)
		r := store.Round{ID: int64(i + 1), Start: at, Sockets: opener("client", 32768+i%2*300, 5)}
		if at.Minute() == 0 {
			r.Sockets = append(r.Sockets, opener("batch-job", 40000, 40)...)
		}
		if at.Hour() == 2 && at.Minute() >= 1 && at.Minute() <= 12 {
			r.Sockets = append(r.Sockets, opener("rsync", 45000+i%2*10, 5)...)
		}
		rounds = append(rounds, r)
	}
	ws, err := features.Windows(rounds, 2)
	if err != nil {
		t.Fatal(err)
	}
	p := countPhase(l, ws)
	window := func(min int, now []sock.Socket) features.Window {
		at := time.Date(2026, 11, 12, 14, min, 0, 0, time.UTC)
		return features.Window{Rounds: []*store.Round{{Start: at.Add(-time.Minute)}, {Start: at, Sockets: now}}}
	}
	tests := []struct {
		name         string
		w            features.Window
		atLeast, max float64
		process      string // the cell's; "": none
	}{
		{"the job at minute 0", window(0, opener("batch-job", 40000, 40)), 0, 0.01, "batch-job"},
		{"the job at minute 23", window(23, opener("batch-job", 40000, 8)), 3, math.Inf(1), "batch-job"},
		{"the client at minute 23", window(23, opener("client", 32768, 5)), 0, 0, ""}, // no phase: not judged
		{"a program never seen connecting", window(23, opener("curl", 50000, 30)), 0, 0, ""},
		{"the nightly backup at minute 14", window(14, opener("rsync", 45000, 5)), 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, cell := p.start(l, tt.w)
			if s < tt.atLeast || s > tt.max {
				t.Errorf("surprise %.3f nats, want %.2f..%.2f", s, tt.atLeast, tt.max)
			}
			if got := ""; cell != nil {
				got = cell.Process
				if got != tt.process {
					t.Errorf("cell %+v, want process %q", cell, tt.process)
				}
			} else if tt.process != "" {
				t.Errorf("no cell, want process %q", tt.process)
			}
		})
	}

	w := window(23, opener("batch-job", 40000, 8))
	s, cell := p.start(l, w)
	cal, err := calibrate([]stats{{Total: 10, Peak: 5}, {Total: 12, Peak: 6}}, 1e-4)
	if err != nil {
		t.Fatal(err)
	}
	rs := []Scored{{Start: w.Last().Start, stats: stats{Total: 11, Peak: 5, Start: s}, startOpener: cell}}
	judge(rs, cal)
	want := "batch-job opened 8 client connections at minute 23 of the hour; it opens them at minute 0"
	if r := rs[0]; !r.Anomalous || len(r.Traffic) == 0 || r.Traffic[0].Text != want || r.Traffic[0].Process != "batch-job" || r.Traffic[0].Kind != "burst" {
		t.Errorf("the job at minute 23: anomalous %v, findings %+v; want flagged, telling %q", r.Anomalous, r.Traffic, want)
	}
}

func TestPhased(t *testing.T) {
	at := func(n int, minutes ...int) [60]int {
		var on [60]int
		for i := range n {
			on[minutes[i%len(minutes)]]++
		}
		return on
	}
	every := make([]int, 60)
	for m := range every {
		every[m] = m
	}
	for _, tc := range []struct {
		name string
		o    [60]int
		want bool
	}{
		{"an hourly job at minute 0", at(72, 0), true},
		{"an hourly job over minutes 0 and 1", at(144, 0, 1), true},
		{"a quarter-hourly fetch", at(288, 3, 18, 33, 48), true},
		{"a client at every minute", at(240, every...), false},
		{"a job seen 10 times", at(10, 0), false},
		{"ten starts at ten minutes", at(10, 3, 9, 14, 22, 30, 35, 41, 47, 52, 58), false},
		{"a job over a third of the hour", at(240, every[:20]...), false},
	} {
		if got := phased(tc.o); got != tc.want {
			t.Errorf("%s: phased %v, want %v", tc.name, got, tc.want)
		}
	}
}
