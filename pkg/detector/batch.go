package detector

import (
	"fmt"

	"gorgonia.org/tensor"

	"portwatch/pkg/features"
	"portwatch/pkg/portae"
)

// batcher fills micro-batches of windows into one input buffer, reused from
// batch to batch, and runs them through the model.
type batcher struct {
	m     *model
	in    []float32 // [batch, T, C, 65536]
	tgt   []float32 // [batch, C, 65536]: each window's last round as it was
	out   []float32 // [batch, C, 65536]: an ablation table's predictions
	pat   []int64   // [batch, C, 65536]: a v2 model's pattern input
	plane int       // C*65536: one round
}

func newBatcher(m *model, batch int) *batcher {
	plane := m.layout.C() * features.Ports
	b := &batcher{m: m, in: make([]float32, batch*m.window*plane), tgt: make([]float32, batch*plane), plane: plane}
	if m.file.Lagged {
		b.pat = make([]int64, batch*plane)
	}
	return b
}

// fill writes ws into the input buffers and returns the model's inputs: an
// [n, T, C, 65536] occupancy tensor and, for a v2 model, its pattern.
func (b *batcher) fill(ws []features.Window) (map[string]*tensor.Dense, error) {
	size := b.m.window * b.plane
	if len(ws)*size > len(b.in) {
		return nil, fmt.Errorf("batch of %d windows exceeds the buffer", len(ws))
	}
	for i, w := range ws {
		in, tgt := b.in[i*size:(i+1)*size], b.tgt[i*b.plane:(i+1)*b.plane]
		if !b.m.file.Forecast {
			if err := b.m.layout.Fill(in, w); err != nil {
				return nil, err
			}
			copy(tgt, in[size-b.plane:])
			continue
		}
		if err := b.m.layout.FillForecast(in, w); err != nil {
			return nil, err
		}
		if err := b.m.layout.FillRound(tgt, w.Last()); err != nil {
			return nil, err
		}
	}
	in := map[string]*tensor.Dense{portae.Input: tensor.New(tensor.WithShape(len(ws), b.m.window, b.m.layout.C(), features.Ports),
		tensor.WithBacking(b.in[:len(ws)*size]))}
	if b.pat != nil {
		var lags lagFit // none before the first training: every cell portae.NoPattern
		if b.m.lags != nil {
			lags = *b.m.lags
		}
		for i, w := range ws {
			b.m.hist.fill(b.pat[i*b.plane:(i+1)*b.plane], w, lags)
		}
		in[portae.PatternInput] = tensor.New(tensor.WithShape(len(ws), b.m.layout.C(), features.Ports),
			tensor.WithBacking(b.pat[:len(ws)*b.plane]))
	}
	return in, nil
}

// target returns window i's last round, [C, 65536], from the last fill: as
// it was, also when the model's input masks it.
func (b *batcher) target(i int) []float32 { return b.tgt[i*b.plane : (i+1)*b.plane] }

// predict returns the model's reconstructions of ws, [n, C, 65536], or an
// ablation table's predictions for them; either way ws are filled, so
// target gives their last rounds.
func (b *batcher) predict(ws []features.Window) ([]float32, error) {
	if b.m.table == nil {
		return b.reconstruct(ws)
	}
	if _, err := b.fill(ws); err != nil {
		return nil, err
	}
	b.out = b.m.table.predict(b.out, ws)
	return b.out, nil
}

// reconstruct runs ws and returns their reconstructions, [n, C, 65536].
func (b *batcher) reconstruct(ws []features.Window) ([]float32, error) {
	in, err := b.fill(ws)
	if err != nil {
		return nil, err
	}
	out, err := b.m.eng.Run(in)
	if err != nil {
		return nil, err
	}
	y, ok := out[portae.Output].Data().([]float32)
	if !ok || len(y) != len(ws)*b.plane {
		return nil, fmt.Errorf("model output %s: got %d values, want %d float32", portae.Output, len(y), len(ws)*b.plane)
	}
	return y, nil
}

// step takes one training step toward reconstructing the last round of
// each window in ws.
func (b *batcher) step(ws []features.Window) (float64, error) {
	in, err := b.fill(ws)
	if err != nil {
		return 0, err
	}
	y := tensor.New(tensor.WithShape(len(ws), b.m.layout.C(), features.Ports),
		tensor.WithBacking(b.tgt[:len(ws)*b.plane]))
	loss, err := b.m.step(in, y)
	if err != nil {
		return 0, fmt.Errorf("train: %w", err)
	}
	return loss, nil
}
