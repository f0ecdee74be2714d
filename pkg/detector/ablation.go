package detector

import (
	"fmt"

	"portwatch/pkg/features"
)

// Ablation replaces the autoencoder's output with a table, so the quality
// report can say what the model adds over counting: the same statistics,
// calibration and hour counts, judged on the table's probabilities instead.
type Ablation string

// The ablations. AblateNone runs the model.
const (
	AblateNone Ablation = ""
	// AblateTable predicts each (channel, port) cell's training frequency
	// (basePrior: the model's own starting point, the ephemeral range pooled).
	AblateTable Ablation = "table"
	// AblatePhase predicts each cell's frequency at the round's minute of
	// the hour, smoothed toward its all-day frequency by phasePseudo rounds.
	AblatePhase Ablation = "phase-table"
	// AblateSeasonal predicts the table's frequencies, those of listeners
	// that come and go shifted by what their port did the round before and
	// an hour and a day before (see seasonal).
	AblateSeasonal Ablation = "seasonal"
)

// phasePseudo is the weight, in rounds, of a cell's all-day frequency in its
// frequency at one minute of the hour.
const phasePseudo = 2

// table is an ablation's predictions: one plane, or one per minute of the
// hour, and for the seasonal ablation the shifts of its listeners.
type table struct {
	planes   [][]float32 // [1 or 60][C*65536]
	seasonal *seasonal
}

// newTable fits an ablation's table on the training windows ws; the
// seasonal ablation looks its lags up in h.
func newTable(kind Ablation, l features.Layout, ws []features.Window, h *history) (*table, error) {
	base := basePrior(l, ws)
	switch kind {
	case AblateTable:
		return &table{planes: [][]float32{toFloat32(base, nil)}}, nil
	case AblateSeasonal:
		s := &seasonal{base: base, fit: fitLags(l, ws, base, h), hist: h}
		return &table{planes: [][]float32{toFloat32(base, nil)}, seasonal: s}, nil
	case AblatePhase:
		var byMinute [60][]features.Window
		for _, w := range ws {
			m := w.Last().Start.UTC().Minute()
			byMinute[m] = append(byMinute[m], w)
		}
		t := &table{planes: make([][]float32, 60)}
		for m, mws := range byMinute {
			at := append([]float64(nil), base...)
			if len(mws) > 0 {
				at = basePrior(l, mws)
			}
			n := float64(len(mws))
			for i := range at {
				at[i] = (n*at[i] + phasePseudo*base[i]) / (n + phasePseudo)
			}
			t.planes[m] = toFloat32(at, nil)
		}
		return t, nil
	}
	return nil, fmt.Errorf("unknown ablation %q", kind)
}

// predict writes the table's prediction for each window's last round into
// dst, [len(ws), C*65536].
func (t *table) predict(dst []float32, ws []features.Window) []float32 {
	dst = dst[:0]
	for _, w := range ws {
		p := t.planes[0]
		if len(t.planes) == 60 {
			p = t.planes[w.Last().Start.UTC().Minute()]
		}
		dst = append(dst, p...)
		if t.seasonal != nil {
			t.seasonal.adjust(dst[len(dst)-len(p):], w)
		}
	}
	return dst
}

func toFloat32(p []float64, dst []float32) []float32 {
	for _, v := range p {
		dst = append(dst, float32(v))
	}
	return dst
}
