package store_test

import (
	"context"
	"testing"
	"time"

	"portwatch/pkg/store"
	"portwatch/pkg/store/storetest"
)

func TestIncidentsAndAccepts(t *testing.T) {
	ctx := context.Background()
	db, _ := storetest.New(t)
	at := time.Date(2026, 11, 20, 10, 0, 0, 123456000, time.UTC)
	ins, err := db.SaveIncidents(ctx, []store.Incident{
		{Key: "tcp/4 0.0.0.0 port 4444 process=nc", Kind: "new_listener", State: store.IncidentOpen, FirstRound: 5, LastRound: 7,
			OpenedAt: at, UpdatedAt: at, Detail: `{"key":{}}`, Rounds: 3, Score: 2.5},
		{Key: "tcp connections", Kind: "port_exhaustion", State: store.IncidentClosed, FirstRound: 9, LastRound: 9,
			OpenedAt: at, UpdatedAt: at, ClosedAt: at.Add(time.Hour), Detail: `{}`, Rounds: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ins[0].ID != 1 || ins[1].ID != 2 {
		t.Fatalf("ids = %d, %d; want 1, 2", ins[0].ID, ins[1].ID)
	}
	ins[0].LastRound, ins[0].Absent = 8, 1
	if _, err := db.SaveIncidents(ctx, ins[:1]); err != nil {
		t.Fatal(err)
	}
	open, err := db.Incidents(ctx, store.IncidentOpen)
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 1 || open[0].LastRound != 8 || open[0].Absent != 1 || !open[0].OpenedAt.Equal(at) || !open[0].ClosedAt.IsZero() {
		t.Errorf("open = %+v, want incident 1 updated", open)
	}
	all, err := db.Incidents(ctx)
	if err != nil || len(all) != 2 || !all[1].ClosedAt.Equal(at.Add(time.Hour)) {
		t.Errorf("all = %+v, %v; want 2, the second closed an hour later", all, err)
	}

	a := store.Accept{Protocol: "tcp", Port: 4444, Process: "nc", By: "alice", At: at, Note: "lab", IncidentID: 1}
	id, err := db.AddAccept(ctx, a, []int64{1})
	if err != nil {
		t.Fatal(err)
	}
	a.By, a.Note = "bob", "still the lab"
	if again, err := db.AddAccept(ctx, a, nil); err != nil || again != id {
		t.Errorf("accepting again: id %d, %v; want the same row %d", again, err, id)
	}
	as, err := db.Accepts(ctx)
	if err != nil || len(as) != 1 || as[0].By != "bob" || as[0].Note != "still the lab" || as[0].IncidentID != 1 {
		t.Errorf("accepts = %+v, %v; want one, by bob", as, err)
	}
	if got := storetest.Int(t, db, "SELECT count(*) FROM incidents WHERE state = 'accepted' AND refit_pending = 1"); got != 1 {
		t.Errorf("accepted incidents due a refit: got %d, want 1", got)
	}
	if err := db.RefitDone(ctx, []int64{1}); err != nil {
		t.Fatal(err)
	}
	if got := storetest.Int(t, db, "SELECT refit_pending FROM incidents WHERE id = 1"); got != 0 {
		t.Errorf("refit_pending after RefitDone: got %d, want 0", got)
	}
	s, err := db.Summarize(ctx)
	if err != nil || s.OpenIncidents != 0 || s.AcceptedCauses != 1 || s.Bytes == 0 {
		t.Errorf("summary = %+v, %v", s, err)
	}
	for _, want := range []bool{true, false} {
		if found, err := db.RemoveAccept(ctx, id); err != nil || found != want {
			t.Errorf("RemoveAccept: %v, %v; want %v", found, err, want)
		}
	}
}
