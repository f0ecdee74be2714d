package detector

import (
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
