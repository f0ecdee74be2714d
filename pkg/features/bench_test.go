package features_test

import (
	"context"
	"path/filepath"
	"testing"

	"portwatch/internal/eval/scenario"
	"portwatch/pkg/features"
	"portwatch/pkg/store"
)

// BenchmarkLoadFill is an hourly detect's feature work: from a database of
// three days of minute rounds, load the newest 60 rounds with the 9 before
// them, and fill their 60 windows (T=10, C=3) and targets into reused buffers.
func BenchmarkLoadFill(b *testing.B) {
	const T, newest = 10, 60
	ctx := context.Background()
	tl, err := scenario.Generate(scenario.Config{Seed: 1, TestDays: 3})
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "ports.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := tl.Write(ctx, db); err != nil {
		b.Fatal(err)
	}
	layout, err := features.NewLayout(features.OccupancyChannels())
	if err != nil {
		b.Fatal(err)
	}
	q := store.RoundQuery{AfterID: int64(len(tl.Rounds) - newest), Context: T - 1}
	window := make([]float32, T*layout.C()*features.Ports)
	target := make([]float32, layout.C()*features.Ports)
	b.ReportAllocs()
	for b.Loop() {
		rounds, err := db.Rounds(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		ws, err := features.Windows(rounds, T)
		if err != nil {
			b.Fatal(err)
		}
		ws = ws[len(ws)-newest:]
		if len(ws) != newest || ws[0].Padded != 0 {
			b.Fatalf("got %d windows, the first padded %d; want %d unpadded", len(ws), ws[0].Padded, newest)
		}
		for _, w := range ws {
			if err := layout.Fill(window, w); err != nil {
				b.Fatal(err)
			}
			if err := layout.FillRound(target, w.Last()); err != nil {
				b.Fatal(err)
			}
		}
	}
}
