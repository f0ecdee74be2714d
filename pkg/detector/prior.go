package detector

import (
	"portwatch/pkg/features"
	"portwatch/pkg/portae"
)

// block is the width of the port ranges examined for churn. A block where
// at least seeds ports were used now and then (in some rounds, not most),
// counted over all channels, churns, and so does every block between two
// that do: together they are the host's ephemeral range.
const (
	block = 1024
	seeds = 4
)

// pooledFloor is the least pooled rate: a channel that churns at all keeps
// its fresh ports below the cost of a port never used, -ln(eps).
// ephemeralCap is the most an ephemeral port of such a channel is expected:
// even a connection open through all of training (a database pool) is
// redialled on another port after a reboot or a sleep, and its old port
// going must cost a fraction of a nat, not -ln(eps) in every round after.
const (
	pooledFloor  = 1e-5
	ephemeralCap = 0.5
)

// basePrior returns, per cell, the probability that a round has it in use,
// judged from the training windows' targets: the cell's own frequency, or in
// the ephemeral range, for a connection or UDP channel with occasional use
// there, the range's
// mean rate of occasional use if that is higher, and at most ephemeralCap.
// So a fresh ephemeral port costs a few nats, a fresh DNS client port a few
// more, and a listener on a port never used -ln(eps). The result is bounded
// to [eps, 1-eps].
func basePrior(l features.Layout, ws []features.Window) []float64 {
	plane := l.C() * features.Ports
	p := make([]float64, plane)
	buf := make([]float32, plane)
	for _, w := range ws {
		// FillRound fails only on a wrong buffer size, which plane rules out.
		_ = l.FillRound(buf, w.Last())
		for i, v := range buf {
			if v != 0 {
				p[i] += float64(v)
			}
		}
	}
	n := float64(max(len(ws), 1))
	for i := range p {
		p[i] /= n
	}
	pooled := make([]bool, l.C())
	for c, name := range l.Channels() {
		pooled[c] = !features.Listening(name)
	}
	lo, hi := churnRange(p, pooled)
	for c := range l.C() {
		if !pooled[c] {
			continue
		}
		row := p[c*features.Ports : (c+1)*features.Ports]
		var mass float64
		for _, f := range row[lo:hi] {
			if occasional(f) {
				mass += f
			}
		}
		if mass == 0 {
			continue
		}
		rate := max(mass/float64(hi-lo), pooledFloor)
		for i := lo; i < hi; i++ {
			row[i] = min(max(row[i], rate), ephemeralCap)
		}
	}
	for i := range p {
		p[i] = min(max(p[i], eps), 1-eps)
	}
	return p
}

// occasional reports whether a cell's frequency is that of a port used now
// and then rather than never or most of the time.
func occasional(f float64) bool { return f > 0 && f < 0.5 }

// churnRange returns the port range [lo, hi) that churns in the per-cell
// frequencies p (all channels, one after the other) of the pooled
// channels; empty when none does.
func churnRange(p []float64, pooled []bool) (lo, hi int) {
	counts := make([]int, features.Ports/block)
	for i, f := range p {
		if pooled[i/features.Ports] && occasional(f) {
			counts[(i%features.Ports)/block]++
		}
	}
	first, last := -1, -1
	for b, n := range counts {
		if n >= seeds {
			if first < 0 {
				first = b
			}
			last = b
		}
	}
	if first < 0 {
		return 0, 0
	}
	return first * block, (last + 1) * block
}

// setPrior makes m predict prior for every window before any training: the
// output bias set to its logits and the output weights to zero, so that
// training spends its steps on what time and context add, not on learning
// which ports a host uses. It reports false, changing nothing, for models
// without portae's output layer.
func (m *model) setPrior(prior []float64) bool {
	params, out := m.eng.Params(), portae.OutputLayer()
	w, b := params[out.Weight], params[out.Bias]
	if w == nil || b == nil || b.Shape().TotalSize() != len(prior) || len(w.Shape()) != 2 || w.Shape()[0] != len(prior) {
		return false
	}
	bias := b.Data().([]float32)
	for i, p := range prior {
		bias[i] = float32(logit(p))
	}
	clear(w.Data().([]float32))
	return true
}

// setLags makes m's lag term fit's: the cells it shifts, and its offsets
// as the starting point of training. It reports false, changing nothing,
// for models without portae v2's lag offsets.
func (m *model) setLags(fit lagFit) bool {
	off := m.eng.Params()[portae.LagOffsets]
	if !m.file.Lagged || off == nil || off.Shape().TotalSize() != len(fit.offsets) {
		return false
	}
	for i, v := range fit.offsets {
		off.Data().([]float32)[i] = float32(v)
	}
	fit.offsets = nil // the engine's from now on
	m.lags = &fit
	return true
}
