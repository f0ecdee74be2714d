package detector

import (
	"context"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"portwatch/pkg/detector/detectortest"
	"portwatch/pkg/features"
	"portwatch/pkg/portae"
	"portwatch/pkg/store"
)

// lagTimeline is four days of minute rounds: sshd always but for its
// restart at 03:00 every night, an admin port at minutes 30-31 of every
// hour, rsync at 02:00-02:09 every night.
func lagTimeline() []store.Round {
	at := time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC)
	var rounds []store.Round
	for i := range 4 * 24 * 60 {
		r := store.Round{ID: int64(i + 1), Start: at.Add(time.Duration(i) * time.Minute)}
		if r.Start.Hour() != 3 || r.Start.Minute() != 0 {
			r.Sockets = append(r.Sockets, listener4(22, "sshd"))
		}
		if m := r.Start.Minute(); m == 30 || m == 31 {
			r.Sockets = append(r.Sockets, listener4(8125, "batch-admin"))
		}
		if r.Start.Hour() == 2 && r.Start.Minute() < 10 {
			r.Sockets = append(r.Sockets, listener4(873, "rsync"))
		}
		rounds = append(rounds, r)
	}
	return rounds
}

// TestLagModel: portae v2, trained on three days, expects the admin port at
// 05:30 of the fourth (it listened at 04:30 and at 05:30 the day before)
// and rsync at 02:00 (it listened at 02:00 the day before) far above their
// all-day rates, where a model that sees only its window (the table it
// starts from) cannot tell them from any other minute. The admin port,
// strict (every start heralded), is unlikely at 05:45, where it has no
// precedent; rsync, seen starting twice, keeps its rate at 14:00. sshd, steady,
// is expected gone at 03:00, its restart the night before, and not at
// 04:00. Its lag cells and offsets survive the model file.
func TestLagModel(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	rounds := lagTimeline()
	day4 := 3 * 24 * 60
	cfg := DefaultConfig(filepath.Join(t.TempDir(), "portae.onnx"))
	cfg.Channels = []string{features.TCPListen}
	cfg.Epochs, cfg.EpochSize = 1, 64
	d := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m, err := newModel(cfg.Channels, 0, cfg.Batch, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.train(m, rounds[:day4])
	if err != nil {
		t.Fatal(err)
	}
	if !res.Trained.Lags {
		t.Fatal("training: the lag term was not set")
	}
	if got, want := m.cal.PeakFloor, math.Log(float64(res.Trained.Windows))+peakMargin; got != want {
		t.Errorf("peak floor: got %.3f, want ln(training windows) + margin = %.3f", got, want)
	}
	if got := [kinds][]uint16{m.lags.cells[loose][0], m.lags.cells[strict][0], m.lags.cells[steady][0]}; !reflect.DeepEqual(got, [kinds][]uint16{{873}, {8125}, {22}}) {
		t.Errorf("lag cells loose, strict, steady: got %v, want rsync's 873 (two starts with both lags), the admin port's 8125 and sshd's 22", got)
	}
	ws, err := features.Windows(rounds, m.window)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws[day4 : day4+6*60] {
		m.hist.remember(w.Last()) // as refits do, up to 06:00 of day 4
	}
	predictPort := func(m *model, port, hour, minute int) float32 {
		t.Helper()
		i := day4 + hour*60 + minute
		p, err := newBatcher(m, 1).predict(ws[i : i+1])
		if err != nil {
			t.Fatal(err)
		}
		return p[port]
	}
	predict := func(m *model, hour, minute int) float32 { return predictPort(m, 8125, hour, minute) }
	admin, rsync := float32(2.0/60), float32(10.0/1440) // all-day rates
	if got := predict(m, 5, 30); got < 10*admin {
		t.Errorf("admin port at 05:30: got %.3g, want above ten times its all-day rate %.3g", got, admin)
	}
	if got := predictPort(m, 873, 2, 0); got < 10*rsync {
		t.Errorf("rsync at 02:00: got %.3g, want above ten times its all-day rate %.3g", got, rsync)
	}
	if got := predict(m, 5, 45); got > admin/10 {
		t.Errorf("admin port at 05:45, unheralded: got %.3g, want below a tenth of its all-day rate %.3g", got, admin)
	}
	if got := predictPort(m, 873, 14, 0); got < rsync/2 || got > 2*rsync {
		t.Errorf("rsync at 14:00, loose and without precedent: got %.3g, want about its all-day rate %.3g", got, rsync)
	}
	if got := predictPort(m, 22, 3, 0); got > 0.9 {
		t.Errorf("sshd at 03:00, its restart: got %.3g, want below 0.9 (its absence under ln 10 nats)", got)
	}
	if got := predictPort(m, 22, 4, 0); got < 0.999 {
		t.Errorf("sshd at 04:00: got %.4g, want its steady rate, above 0.999", got)
	}

	if err := m.save(cfg.ModelPath); err != nil {
		t.Fatal(err)
	}
	loaded, err := loadModel(cfg.ModelPath, cfg.Batch)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded.lags, m.lags) || loaded.file.Version() != portae.VersionLags {
		t.Errorf("loaded: lags %+v, version %s; want %+v, %s", loaded.lags, loaded.file.Version(), m.lags, portae.VersionLags)
	}
	loaded.hist = m.hist
	for _, hm := range [][2]int{{5, 30}, {5, 45}} {
		if a, b := predict(m, hm[0], hm[1]), predict(loaded, hm[0], hm[1]); a != b {
			t.Errorf("%02d:%02d: saved model %v, loaded %v", hm[0], hm[1], a, b)
		}
	}
}

// TestLookBack: a cron run's history is the stored rounds an hour and a day
// before the rounds it scores, those no anomaly names.
func TestLookBack(t *testing.T) {
	ctx := context.Background()
	h := detectortest.New(t, 200, 200, 0, 0)
	rounds, err := h.DB.Rounds(ctx, store.RoundQuery{Scanned: true})
	if err != nil {
		t.Fatal(err)
	}
	flagged := rounds[99]
	if err := h.DB.RecordBatch(ctx, store.Batch{At: time.Now(), Alg: portae.VersionLags, Model: "test",
		Scored: []store.ScoredRound{{RoundID: flagged.ID, Start: flagged.Start, Score: 2, Anomalous: true, Threshold: 1, Detail: "{}"}}}); err != nil {
		t.Fatal(err)
	}
	m, err := newModel(nil, 0, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	m.lags = &lagFit{}
	ws, err := features.Windows(rounds, m.window)
	if err != nil {
		t.Fatal(err)
	}
	target := ws[155:165]
	if err := newDetector(h).lookBack(ctx, h.DB, m, target); err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, r := range m.hist.rounds {
		got = append(got, r.ID)
	}
	var want []int64
	for _, r := range rounds {
		first, last := target[0].Last().Start.Add(-time.Hour), target[len(target)-1].Last().Start.Add(-time.Hour)
		if r.ID != flagged.ID && !r.Start.Before(first.Add(-lagSlack)) && !r.Start.After(last.Add(lagSlack)) {
			want = append(want, r.ID)
		}
	}
	if len(want) < 9 || !slices.Equal(got, want) {
		t.Errorf("history: got rounds %v, want %v (an hour before, without the anomalous %d)", got, want, flagged.ID)
	}
}
