package detector

import (
	"math"
	"testing"
	"time"

	"portwatch/pkg/features"
	"portwatch/pkg/modelfile"
	"portwatch/pkg/sock"
	"portwatch/pkg/store"
)

// goneWindow is a window of len(present) rounds, sshd on 22 listening in
// round i when present[i], and the dev server on 3000 never.
func goneWindow(present []bool) features.Window {
	start := time.Date(2026, 11, 9, 3, 0, 0, 0, time.UTC)
	w := features.Window{}
	for i, on := range present {
		r := &store.Round{ID: int64(i + 1), Start: start.Add(time.Duration(i) * time.Minute)}
		if on {
			r.Sockets = []sock.Socket{listener4(22, "sshd")}
		}
		w.Rounds = append(w.Rounds, r)
	}
	return w
}

func TestGone(t *testing.T) {
	l, err := features.NewLayout(modelfile.DefaultChannels())
	if err != nil {
		t.Fatal(err)
	}
	listen := 0 // tcp_listen, the first default channel
	recon := make([]float32, l.C()*features.Ports)
	const sure = 1 - 1.0/1440 // present in all rounds but one a day
	recon[listen*features.Ports+22] = sure
	recon[listen*features.Ports+3000] = 0.3 // a dev server: too unsure to count
	recon[2*features.Ports+22] = sure       // tcp_conn: not a listener
	e := -math.Log1p(-float64(float32(sure)))

	for _, tc := range []struct {
		name    string
		present []bool
		missing int // rounds sshd has been missing for
	}{
		{"listening", []bool{true, true, true, true}, 0},
		{"gone this round", []bool{true, true, true, false}, 1},
		{"gone three rounds", []bool{true, false, false, false}, 3},
		{"back after a restart", []bool{true, false, true, true}, 0},
		{"gone all the window", []bool{false, false, false, false}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := goneWindow(tc.present)
			if got := missingFor(l, w, listen, 22); got != tc.missing {
				t.Errorf("missingFor = %d, want %d", got, tc.missing)
			}
			target := make([]float32, len(recon))
			if err := l.FillRound(target, w.Last()); err != nil {
				t.Fatal(err)
			}
			got, cell := gone(l, w, target, recon)
			want := e * float64(max(tc.missing-1, 0)) // the first round is Peak's
			if math.Abs(got-want) > 1e-9 {
				t.Errorf("gone = %.4f, want %.4f", got, want)
			}
			if (cell != nil) != (tc.missing > 1) {
				t.Fatalf("cell = %+v, want one only when sshd has been missing before this round", cell)
			}
			if cell != nil && (cell.Channel != listen || cell.Port != 22 || cell.Error != got) {
				t.Errorf("cell = %+v, want tcp_listen 22 costing %.4f", cell, got)
			}
		})
	}
}

// TestGoneLimit: calibrated on a host whose listeners are never gone
// longer than a round (a nightly restart, whether or not the hold-out drew
// it), a service missing a second round in a row passes the limit; on one
// whose cupsd (expected at 0.86, 2 nats) was once missing for 4 rounds, cupsd
// missing a fifth; and however long a run training had, a sure listener's
// second round gone, as unlikely as a port the model rules out (the cap).
func TestGoneLimit(t *testing.T) {
	restart := math.Log(1440)
	sts := make([]stats, 3*1440)
	cal, err := calibrate(sts, 1e-4)
	if err != nil {
		t.Fatal(err)
	}
	cupsd := 2.0
	sts[100].Gone = 3 * cupsd
	once, err := calibrate(sts, 1e-4)
	if err != nil {
		t.Fatal(err)
	}
	sts[200].Gone = 9 * restart
	long, err := calibrate(sts, 1e-4)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cal       *calibration
		cost      float64 // of the listener's absence in one round
		missing   int
		anomalous bool
	}{
		{cal, restart, 1, false}, {cal, restart, 2, true}, {cal, restart, 10, true},
		{once, cupsd, 4, false}, {once, cupsd, 5, true},
		{long, restart, 2, false}, {long, 13.8, 2, true},
	} {
		st := stats{Gone: tc.cost * float64(tc.missing-1)}
		cal := tc.cal
		if got := cal.goneRatio(st) > 1; got != tc.anomalous {
			t.Errorf("missing %d rounds: gone ratio %.3f, want anomalous %v", tc.missing, cal.goneRatio(st), tc.anomalous)
		}
		if got := cal.score(st, false) > 1; got != tc.anomalous {
			t.Errorf("missing %d rounds: score %.3f, want anomalous %v", tc.missing, cal.score(st, false), tc.anomalous)
		}
	}
	// A file from before Gone has no limit for it and never judges it.
	cal.Gone = nil
	if r := cal.goneRatio(stats{Gone: 100}); r != 0 {
		t.Errorf("without a limit: gone ratio %v, want 0", r)
	}
}

// A round past the gone limit names the missing listener first, once,
// with the run's cost, though the cell is among its top ones too.
func TestGoneJudge(t *testing.T) {
	cal, err := calibrate([]stats{{Total: 10, Peak: 5, Gone: 7.3}, {Total: 12, Peak: 6}}, 1e-4)
	if err != nil {
		t.Fatal(err)
	}
	top := Port{Port: 22, Protocol: "tcp", State: "listen", Channel: "tcp_listen", Change: "vanished", Error: 7.3, Process: "sshd"}
	run := top
	run.Error = 14.6
	other := Port{Port: 45000, Protocol: "tcp", State: "established", Channel: "tcp_conn", Change: "new", Error: 3}
	rs := []Scored{{stats: stats{Total: 11, Peak: 7.3, Gone: 14.6}, Ports: []Port{top, other}, gonePort: &run}}
	judge(rs, cal)
	judge(rs, cal) // judged again after a refit: still once
	r := rs[0]
	if !r.Anomalous || len(r.Ports) != 2 || r.Ports[0].Port != 22 || r.Ports[0].Error != 14.6 || !r.Ports[0].Over || r.Ports[1] != other {
		t.Errorf("sshd missing two rounds: anomalous %v, ports %+v; want flagged, 22 first and once, past its limit", r.Anomalous, r.Ports)
	}
}
