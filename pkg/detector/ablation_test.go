package detector

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"portwatch/pkg/features"
	"portwatch/pkg/sock"
	"portwatch/pkg/store"
)

// TestPhaseTable: a listener that runs at minute 30 of each hour is expected
// there by the phase table and barely anywhere else; the plain table
// expects it at its all-day rate everywhere.
func TestPhaseTable(t *testing.T) {
	l, err := features.NewLayout([]string{features.TCPListen})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC)
	admin := sock.Socket{Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr("127.0.0.1"), Port: 8125, State: sock.Listen}
	var rounds []store.Round
	for i := range 24 * 60 {
		r := store.Round{ID: int64(i + 1), Start: at.Add(time.Duration(i) * time.Minute)}
		if r.Start.Minute() == 30 {
			r.Sockets = []sock.Socket{admin}
		}
		rounds = append(rounds, r)
	}
	ws, err := features.Windows(rounds, 1)
	if err != nil {
		t.Fatal(err)
	}
	phase, flat := mustTable(t, AblatePhase, l, ws), mustTable(t, AblateTable, l, ws)
	predict := func(tb *table, minute int) float32 {
		return tb.predict(nil, ws[minute:minute+1])[8125]
	}
	if got := predict(phase, 30); got < 0.9 {
		t.Errorf("phase table at minute 30: got %v, want above 0.9 (24 of 24 rounds, smoothed by %d)", got, phasePseudo)
	}
	if got := predict(phase, 45); got > 0.01 {
		t.Errorf("phase table at minute 45: got %v, want at most the smoothed all-day rate", got)
	}
	if a, b := predict(flat, 30), predict(flat, 45); a != b || a > 0.02 {
		t.Errorf("plain table at minutes 30 and 45: got %v and %v, want the same all-day rate 1/60", a, b)
	}
	if _, err := newTable("bogus", l, ws, newHistory(l)); err == nil {
		t.Error("unknown ablation: got no error")
	}
}

// With ModelOnly a round is judged on the model's statistics alone: the
// batch job's admin port starting and its burst at another minute cost
// nothing there, while the same detector with the phase counts finds both.
func TestModelOnly(t *testing.T) {
	at := time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC)
	admin := listener4(8167, "batch-admin")
	round := func(i int, minute int) store.Round {
		r := store.Round{ID: int64(i + 1), Start: at.Add(time.Duration(i) * time.Minute), Sockets: []sock.Socket{listener4(22, "sshd")}}
		if minute == 26 {
			r.Sockets = append(r.Sockets, admin)
		}
		n := 10
		if minute == 0 {
			n = 200
		}
		r.Sockets = append(r.Sockets, clients(i, n)...)
		return r
	}
	var rounds []store.Round
	for i := range 24 * 60 {
		rounds = append(rounds, round(i, i%60))
	}
	// Minute 7 of the next day: the admin port starts, with the job's burst.
	test := []store.Round{round(len(rounds), 6), round(len(rounds)+1, 26)}
	test[1].Start = test[0].Start.Add(time.Minute)
	test[1].Sockets = append(test[1].Sockets, clients(0, 200)...)
	for _, modelOnly := range []bool{false, true} {
		cfg := DefaultConfig("")
		cfg.Ablation, cfg.ModelOnly = AblateTable, modelOnly
		q := NewReplay(cfg, slog.New(slog.DiscardHandler))
		if err := q.Train(rounds); err != nil {
			t.Fatal(err)
		}
		rs, err := q.Score(test)
		if err != nil {
			t.Fatal(err)
		}
		r := rs[1]
		if got := r.stats.Start > 0 && r.Load > 0; got == modelOnly {
			t.Errorf("model only %v: start %.2f, load %.2f; want both %s", modelOnly, r.stats.Start, r.Load, map[bool]string{true: "zero", false: "positive"}[modelOnly])
		}
	}
}

// TestSeasonal: a per-port table, even by minute of the hour, cannot tell a
// nightly job's listener at its hour from the same at another hour; the
// seasonal ablation can, from the day before. An admin port that listens
// at minutes 30-31 of every hour is likely at 05:30 (it listened at 04:30)
// and, as it never started without a precedent, unlikely at 05:45; rsync,
// seen starting twice with both lags known, keeps its rate at 14:00.
func TestSeasonal(t *testing.T) {
	l, err := features.NewLayout([]string{features.TCPListen})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC)
	const admin, rsync = 8125, 873
	var rounds []store.Round
	for i := range 4 * 24 * 60 {
		r := store.Round{ID: int64(i + 1), Start: at.Add(time.Duration(i) * time.Minute)}
		if m := r.Start.Minute(); m == 30 || m == 31 {
			r.Sockets = append(r.Sockets, listener4(admin, "batch-admin"))
		}
		if r.Start.Hour() == 2 && r.Start.Minute() < 10 {
			r.Sockets = append(r.Sockets, listener4(rsync, "rsync"))
		}
		rounds = append(rounds, r)
	}
	ws, err := features.Windows(rounds, 2)
	if err != nil {
		t.Fatal(err)
	}
	train := ws[:3*24*60]
	flat, phase, tb := mustTable(t, AblateTable, l, train), mustTable(t, AblatePhase, l, train), mustTable(t, AblateSeasonal, l, train)
	// Day 4, scored in order, each round then learnt as normal as a refit
	// does, so it is looked back at an hour later.
	day4 := 3 * 24 * 60
	var p []float32
	for i := day4; i < len(ws); i++ {
		got := tb.predict(nil, ws[i:i+1])
		p = append(p, got[admin], got[rsync])
		tb.seasonal.hist.remember(ws[i].Last())
	}
	predict := func(port, hour, minute int) float32 {
		k := 2 * (hour*60 + minute)
		if port == rsync {
			k++
		}
		return p[k]
	}
	rate := func(tb *table, port, hour, minute int) float32 {
		return tb.predict(nil, ws[day4+hour*60+minute:day4+hour*60+minute+1])[port]
	}
	tests := []struct {
		name     string
		got, bar float32
		above    bool
	}{
		{"admin at 05:30, above the phase table's 05:30", predict(admin, 5, 30), 0.9 * rate(phase, admin, 5, 30), true},
		{"admin at 05:45, strict and unheralded: a tenth of its all-day rate", predict(admin, 5, 45), rate(flat, admin, 5, 45) / 10, false},
		{"rsync at 02:00, ten times the phase table's 02:00", predict(rsync, 2, 0), 10 * rate(phase, rsync, 2, 0), true},
		{"rsync at 02:05, running: above nine tenths", predict(rsync, 2, 5), 0.9, true},
		{"rsync at 14:00, loose and without precedent: not below its all-day rate", predict(rsync, 14, 0), 0.99 * rate(flat, rsync, 14, 0), true},
		{"rsync at 14:00, loose and without precedent: not above its all-day rate", predict(rsync, 14, 0), 1.01 * rate(flat, rsync, 14, 0), false},
	}
	for _, tt := range tests {
		if tt.above != (tt.got > tt.bar) {
			t.Errorf("%s: got %.3g, bar %.3g", tt.name, tt.got, tt.bar)
		}
	}
}

// TestSeasonalHistory: the seasonal ablation looks back at the rounds a
// refit learns from, the normal ones, and never at an anomaly: a new
// listener flagged at 00:30 is no reason to expect it at 01:30.
func TestSeasonalHistory(t *testing.T) {
	at := time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC)
	round := func(i int) store.Round {
		r := store.Round{ID: int64(i + 1), Start: at.Add(time.Duration(i) * time.Minute), Sockets: []sock.Socket{listener4(22, "sshd")}}
		if i%60 == 26 {
			r.Sockets = append(r.Sockets, listener4(8167, "batch-admin"))
		}
		return r
	}
	var rounds []store.Round
	for i := range 24 * 60 {
		rounds = append(rounds, round(i))
	}
	var test []store.Round
	for i := range 60 {
		test = append(test, round(len(rounds)+i))
	}
	test[30].Sockets = append(test[30].Sockets, listener4(4444, "nc"))
	cfg := DefaultConfig("")
	cfg.Ablation = AblateSeasonal
	q := NewReplay(cfg, slog.New(slog.DiscardHandler))
	if err := q.Train(rounds); err != nil {
		t.Fatal(err)
	}
	rs, err := q.Score(test)
	if err != nil {
		t.Fatal(err)
	}
	if !rs[30].Anomalous {
		t.Fatalf("the new listener's round: score %.2f, want anomalous", rs[30].Score)
	}
	looked := map[int64]bool{}
	for _, r := range q.m.hist.rounds {
		looked[r.ID] = true
	}
	for i, r := range rs {
		if looked[r.RoundID] == r.Anomalous {
			t.Errorf("round %d (anomalous %v): in the history %v, want %v", i, r.Anomalous, looked[r.RoundID], !r.Anomalous)
		}
	}
}

// mustTable is newTable for a test, which fails on its error; the lags are
// looked up in the rounds of ws.
func mustTable(t *testing.T, kind Ablation, l features.Layout, ws []features.Window) *table {
	t.Helper()
	h := newHistory(l)
	for _, w := range ws {
		for _, r := range w.Rounds {
			h.remember(r)
		}
	}
	tb, err := newTable(kind, l, ws, h)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}
