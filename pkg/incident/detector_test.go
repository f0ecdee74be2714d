package incident

import (
	"log/slog"
	"testing"
	"time"

	"portwatch/pkg/detector"
	"portwatch/pkg/detector/detectortest"
	"portwatch/pkg/store"
	"portwatch/pkg/store/storetest"
)

// On a real database and model: the injected listener's rounds make one
// incident; with its key accepted, the detector stores its later rounds as
// normal, refits on them and on the accepted incident's rounds, and no
// incident opens.
func TestDetectorVerdicts(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	ctx := t.Context()
	h := detectortest.New(t, 200, 150, 160, 200)
	cfg := detector.DefaultConfig(h.Model)
	log := slog.New(slog.DiscardHandler)
	if _, err := detector.New(cfg, log).Run(ctx, h.DB); err != nil {
		t.Fatal(err)
	}
	h.Release(t, 170)
	res, err := detector.New(cfg, log).Run(ctx, h.DB)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTracker(nil, nil, DefaultCloseAfter, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Rounds {
		tr.Observe(s)
	}
	events, err := tr.Save(ctx, h.DB)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Event != "opened" || events[0].Kind != NewListener || events[0].Key != "tcp/4 0.0.0.0 port 4444 process=nc" {
		t.Fatalf("events = %+v, want one opened new_listener on nc's 4444", events)
	}
	in := tr.Incidents()[0]
	if _, err := h.DB.AddAccept(ctx, store.Accept{Protocol: "tcp", Port: 4444, Process: "nc", By: "test", At: time.Now()}, []int64{in.ID}); err != nil {
		t.Fatal(err)
	}
	pending, err := h.DB.Incidents(ctx, store.IncidentAccepted)
	if err != nil {
		t.Fatal(err)
	}
	anomalies := storetest.Count(t, h.DB, "anomalies")
	h.Release(t, 190)
	cfg.Acceptor = NewAcceptor([]Rule{{Protocol: "tcp", Port: 4444, Process: "nc"}}, pending)
	res, err = detector.New(cfg, log).Run(ctx, h.DB)
	if err != nil {
		t.Fatal(err)
	}
	var accepted int
	for _, s := range res.Rounds {
		if s.Accepted {
			accepted++
		}
		if s.Anomalous {
			t.Errorf("round %d anomalous after accept: %+v", s.RoundID, s.Ports)
		}
	}
	if got := storetest.Count(t, h.DB, "anomalies"); got != anomalies {
		t.Errorf("anomalies: got %d, want still %d", got, anomalies)
	}
	if !res.Refit || len(res.Relearned) == 0 {
		t.Errorf("refit %v on %d earlier rounds, want a refit on the accepted incident's rounds", res.Refit, len(res.Relearned))
	}
	t.Logf("accepted rounds %d of %d, relearned %v", accepted, len(res.Rounds), res.Relearned)
	tr, err = NewTracker(nil, []Rule{{Protocol: "tcp", Port: 4444, Process: "nc"}}, DefaultCloseAfter, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Rounds {
		tr.Observe(s)
	}
	if n := len(tr.Incidents()); n != 0 {
		t.Errorf("incidents after accept: %d, want 0", n)
	}
}
