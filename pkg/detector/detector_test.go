package detector

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"portwatch/pkg/detector/detectortest"
	"portwatch/pkg/features"
	"portwatch/pkg/modelfile"
	"portwatch/pkg/modelfile/modelfiletest"
	"portwatch/pkg/store/storetest"
)

func newDetector(h *detectortest.History) *Detector {
	cfg := DefaultConfig(h.Model)
	cfg.Epochs = 2
	return New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestLearning(t *testing.T) {
	h := detectortest.New(t, 40, 40, 0, 0)
	// A capture's round has no socket table; it is no round to learn from.
	h.AddCapture(t, time.Date(2026, 11, 12, 1, 0, 0, 0, time.UTC))
	res, err := newDetector(h).Run(context.Background(), h.DB)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Learning, (&Learning{Have: 40, Need: 60}); got == nil || *got != *want {
		t.Errorf("learning: got %+v, want %+v", got, want)
	}
	if _, err := os.Stat(h.Model); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("model file after learning run: got %v, want none", err)
	}
	if got, want := h.Counts(t), [3]int64{}; got != want {
		t.Errorf("batches, scores, anomalies: got %v, want %v", got, want)
	}
}

// The cron life of a host: first training, a new listener flagged and
// explained, re-runs that add nothing, a range scored again without change.
func TestCronLife(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	ctx := context.Background()
	const trained, total, from, to = 150, 175, 160, 166
	h := detectortest.New(t, total, trained, from, to)
	d := newDetector(h)

	res, err := d.Run(ctx, h.DB)
	if err != nil {
		t.Fatal(err)
	}
	if res.Trained == nil {
		t.Fatalf("first run with %d rounds: got no training", trained)
	}
	if got, want := len(res.Rounds)+len(res.TrainedOn), trained; got != want || len(res.Rounds) == 0 {
		t.Errorf("rounds scored or trained on by the first run: got %d (%d scored), want %d", got, len(res.Rounds), want)
	}
	if got, want := storetest.Int(t, h.DB, "SELECT count(*) FROM batches_rounds WHERE score IS NULL"), int64(len(res.TrainedOn)); got != want {
		t.Errorf("rounds recorded as trained on: got %d, want %d", got, want)
	}
	st, err := os.Stat(h.Model)
	if err != nil {
		t.Fatalf("model after first training: %v", err)
	}
	if got, want := st.Mode().Perm(), os.FileMode(0o600); got != want {
		t.Errorf("model mode: got %v, want %v", got, want)
	}
	m, err := loadModel(h.Model, 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.cal == nil || !(m.cal.Total.Threshold > 0) || !(m.cal.Peak.Threshold > 0) {
		t.Fatalf("saved calibration: got %+v, want positive limits", m.cal)
	}
	if m.cal.Hour == nil || m.hours == nil || m.hours.On[hourKey("tcp_listen", 22)] == [24]int{} {
		t.Errorf("saved hour statistic: got limit %+v and counts %+v, want both, sshd counted", m.cal.Hour, m.hours)
	}
	if got, want := m.roundsTrained, trained; got != want {
		t.Errorf("rounds trained: got %d, want %d", got, want)
	}

	h.Release(t, total)
	// Ingested from a capture: packets, no occupancy scan. An occupancy
	// model cannot judge it (it would read as every service vanished).
	capture := h.AddCapture(t, time.Date(2026, 11, 12, 2, 50, 0, 0, time.UTC))
	res, err = d.Run(ctx, h.DB)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(res.Rounds), total-trained; got != want {
		t.Fatalf("rounds scored by the second run: got %d, want %d", got, want)
	}
	if slices.ContainsFunc(res.Rounds, func(r Scored) bool { return r.RoundID == capture }) {
		t.Errorf("capture round %d scored, want it left alone", capture)
	}
	if n := storetest.Int(t, h.DB, "SELECT count(*) FROM batches_rounds WHERE round_id = ?", capture) +
		storetest.Int(t, h.DB, "SELECT count(*) FROM anomalies WHERE round_id = ?", capture); n != 0 {
		t.Errorf("capture round %d in batches or anomalies: got %d rows, want 0", capture, n)
	}
	first := res.Rounds[from-trained-1]
	if first.RoundID != from || !first.Anomalous {
		t.Fatalf("round %d: got id %d anomalous %v (score %g, threshold %g), want flagged",
			from, first.RoundID, first.Anomalous, first.Score, first.Threshold)
	}
	if got := first.Ports[0]; got.Port != 4444 || got.Protocol != "tcp" || got.State != "listen" ||
		got.Process != "nc" || got.Address != "0.0.0.0" || got.Change != "new" {
		t.Errorf("top port of round %d: got %+v, want 4444/tcp listen 0.0.0.0 nc (new)", from, got)
	}
	var flagged []int64
	for _, r := range res.Rounds {
		if r.Anomalous {
			flagged = append(flagged, r.RoundID)
		}
	}
	if want := []int64{160, 161, 162, 163, 164, 165}; !slices.Equal(flagged, want) {
		t.Errorf("flagged rounds: got %v, want %v (the listener's)", flagged, want)
	}
	if n := storetest.Int(t, h.DB, "SELECT count(*) FROM anomalies WHERE round_id = ? AND detail LIKE '%\"port\":4444%'", from); n != 1 {
		t.Errorf("stored anomalies of round %d naming port 4444: got %d, want 1", from, n)
	}
	if !res.Refit {
		t.Errorf("second run: got no refit, want one")
	}
	if _, err := os.Stat(h.Model + ".prev"); err != nil {
		t.Errorf("previous model after refit: %v", err)
	}

	before := h.Counts(t)
	if got, want := before[1], int64(total); got != want {
		t.Errorf("scores stored: got %d, want %d", got, want)
	}
	res, err = d.Run(ctx, h.DB)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(res.Rounds); got != 0 {
		t.Errorf("re-run: got %d rounds scored, want 0", got)
	}
	if got := h.Counts(t); got != before {
		t.Errorf("batches, scores, anomalies after re-run: got %v, want %v", got, before)
	}

	modelBytes, err := os.ReadFile(h.Model)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC)
	res, err = d.Score(ctx, h.DB, start.Add(150*time.Minute), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(res.Rounds); got < total-trained-2 {
		t.Errorf("range scored again: got %d rounds, want about %d", got, total-trained)
	}
	if !slices.ContainsFunc(res.Rounds, func(r Scored) bool { return r.RoundID == from && r.Anomalous }) {
		t.Errorf("range scored again: round %d not flagged", from)
	}
	if got := h.Counts(t); got != before {
		t.Errorf("batches, scores, anomalies after a range run: got %v, want %v", got, before)
	}
	after, err := os.ReadFile(h.Model)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, modelBytes) {
		t.Errorf("model file changed by a range run")
	}
	storetest.Integrity(t, h.DB)
}

// A range run never scores with a missing or untrained model.
func TestScoreNeedsTrainedModel(t *testing.T) {
	h := detectortest.New(t, 70, 70, 0, 0)
	d := newDetector(h)
	if _, err := d.Score(context.Background(), h.DB, time.Time{}, time.Time{}); !errors.Is(err, ErrNoModel) {
		t.Errorf("no model file: got %v, want %v", err, ErrNoModel)
	}
	b, err := modelfile.Build(modelfile.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.Model, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Score(context.Background(), h.DB, time.Time{}, time.Time{}); !errors.Is(err, ErrNoModel) {
		t.Errorf("untrained model file: got %v, want %v", err, ErrNoModel)
	}
}

// A model file detect never trained (detect model new) is trained, with its
// own window and channels, by the first cron run.
func TestFirstRunTrainsNewModelFile(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	h := detectortest.New(t, 70, 70, 0, 0)
	b, err := modelfile.Build(modelfile.Config{Window: 4, Channels: []string{"tcp_listen", "udp_bound"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.Model, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig(h.Model)
	var calls [][2]int
	cfg.Progress = func(done, total int) { calls = append(calls, [2]int{done, total}) }
	res, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil))).Run(context.Background(), h.DB)
	if err != nil {
		t.Fatal(err)
	}
	if res.Trained == nil {
		t.Fatalf("first run on an untrained model file: got no training")
	}
	if len(calls) < 2 || calls[len(calls)-1][0] != calls[len(calls)-1][1] {
		t.Errorf("progress calls: got %v, want several ending done", calls)
	}
	m, err := loadModel(h.Model, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.window, 4; got != want || m.cal == nil || m.layout.C() != 2 {
		t.Errorf("model after training: got window %d, %d channels, calibrated %v; want window %d, 2 channels, calibrated", got, m.layout.C(), m.cal != nil, want)
	}
}

func TestBadModel(t *testing.T) {
	build := func(t *testing.T, channels []string, meta map[string]string) []byte {
		return modelfiletest.Raw(t, 4, channels, meta)
	}
	tests := []struct {
		name string
		file func(t *testing.T) []byte
		want string
	}{
		{"garbage", func(*testing.T) []byte { return []byte("this is not an onnx model") }, "cannot be read as an ONNX model"},
		{"truncated", func(t *testing.T) []byte { b := build(t, nil, nil); return b[:len(b)/2] }, "cannot be read as an ONNX model"},
		{"channels differ from input", func(t *testing.T) []byte {
			return build(t, []string{"tcp_listen", "udp_bound"}, map[string]string{modelfile.KeyChannels: "tcp_listen,udp_bound,tcp_conn"})
		}, "input occupancy has 2 channels, but the model's portwatch.channels lists 3 (tcp_listen,udp_bound,tcp_conn)"},
		{"unknown channel", func(t *testing.T) []byte {
			return build(t, []string{"tcp_listen", "icmp_echo"}, map[string]string{modelfile.KeyChannels: "tcp_listen,icmp_echo"})
		},
			`unknown channels "icmp_echo"`},
		{"window differs", func(t *testing.T) []byte { return build(t, nil, map[string]string{modelfile.KeyWindow: "12"}) },
			"input occupancy has a window of 4 rounds, but the model's portwatch.window says 12"},
		// Before the bound, scoring with it died out of memory.
		{"window too big for memory", func(t *testing.T) []byte { return modelfiletest.Raw(t, 100000, nil, nil) },
			"a window of 100000 rounds of 3 channels at batch 8 needs about"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := detectortest.New(t, 70, 70, 0, 0)
			b := tt.file(t)
			if err := os.WriteFile(h.Model, b, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := newDetector(h).Run(context.Background(), h.DB)
			var me *modelfile.Error
			if !errors.As(err, &me) {
				t.Fatalf("error: got %v, want a *modelfile.Error", err)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(tt.want)) {
				t.Errorf("error: got %q, want it to say %q", err, tt.want)
			}
			got, rerr := os.ReadFile(h.Model)
			if rerr != nil || !bytes.Equal(got, b) {
				t.Errorf("model file after the error: changed or gone (%v)", rerr)
			}
			if got, want := h.Counts(t), [3]int64{}; got != want {
				t.Errorf("batches, scores, anomalies: got %v, want %v", got, want)
			}
		})
	}
}

// A model of occupancy and traffic (live rounds with -p) is no model of
// traffic alone: its rounds are judged on the model's own statistics too,
// so a new listener is flagged and named as a cause though no round has a
// capture.
func TestOccupancyAndTrafficModel(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	ctx := context.Background()
	const trained, total, from, to = 150, 175, 160, 166
	h := detectortest.New(t, total, trained, from, to)
	cfg := DefaultConfig(h.Model)
	cfg.Epochs, cfg.Channels = 2, append(features.OccupancyChannels(), features.PeersIn)
	d := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := d.Run(ctx, h.DB); err != nil {
		t.Fatal(err)
	}
	h.Release(t, total)
	res, err := d.Run(ctx, h.DB)
	if err != nil {
		t.Fatal(err)
	}
	r := res.Rounds[from-trained-1]
	if i := slices.IndexFunc(r.Ports, func(p Port) bool { return p.Over }); r.RoundID != from || !r.Anomalous || i < 0 || r.Ports[i].Port != 4444 {
		t.Errorf("round %d: got id %d anomalous %v (score %g), ports %+v; want flagged, 4444 a cause", from, r.RoundID, r.Anomalous, r.Score, r.Ports)
	}
}
