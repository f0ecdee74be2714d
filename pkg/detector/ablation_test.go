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
	phase, err := newTable(AblatePhase, l, ws)
	if err != nil {
		t.Fatal(err)
	}
	flat, err := newTable(AblateTable, l, ws)
	if err != nil {
		t.Fatal(err)
	}
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
	if _, err := newTable("bogus", l, ws); err == nil {
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
