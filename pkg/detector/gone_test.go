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
		missing int // rounds sshd has been missing for; 0: Gone is 0
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
			if want := e * float64(tc.missing); math.Abs(got-want) > 1e-9 {
				t.Errorf("gone = %.4f, want %.4f", got, want)
			}
			if (cell != nil) != (tc.missing > 0) {
				t.Fatalf("cell = %+v, want one only when sshd is missing", cell)
			}
			if cell != nil && (cell.Channel != listen || cell.Port != 22 || cell.Error != got) {
				t.Errorf("cell = %+v, want tcp_listen 22 costing %.4f", cell, got)
			}
		})
	}
}

// TestGoneLimit: calibrated on a host whose service restarts for one round
// a night, the restart stays normal and the service missing a second round
// in a row passes the limit.
func TestGoneLimit(t *testing.T) {
	restart := math.Log(1440)
	sts := make([]stats, 3*1440)
	for i := range sts {
		if i%1440 == 0 {
			sts[i].Gone = restart
		}
	}
	cal, err := calibrate(sts, 1e-4)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		missing   int
		anomalous bool
	}{{0, false}, {1, false}, {2, true}, {10, true}} {
		st := stats{Gone: restart * float64(tc.missing)}
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
