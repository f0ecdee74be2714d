package detector

import (
	"io"
	"log/slog"
	"testing"

	"portwatch/pkg/features"
	"portwatch/pkg/scenario"
)

func TestScratchQuality(t *testing.T) {
	tl, err := scenario.Generate(scenario.Config{Seed: 1, TrainDays: 3, TestDays: 4, EventsPerKind: 20, Sleeps: 3})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig("")
	q := NewQuality(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := q.Train(tl.Rounds[:tl.Train]); err != nil {
		t.Fatal(err)
	}
	m := q.m
	all := tl.Rounds
	ws, _ := features.Windows(all, m.window)
	for _, e := range tl.Events {
		if e.Kind != scenario.NewListener && e.Kind != scenario.Rebound {
			continue
		}
		rs, _ := q.d.score(m, ws[e.Start:e.Start+1])
		judge(rs, m.cal)
		r := rs[0]
		t.Logf("%s %s port %d: score %.2f peak %.2f total %.1f top %+v", e.Kind, e.Detail, e.Port, r.Score, r.Peak, r.Total, r.Ports[0])
	}
}
