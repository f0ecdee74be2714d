// Package baseline holds the simple detectors portwatch must beat, as
// quality.Detector scorers over the same rounds:
//
//   - Unseen flags a round holding a port on a channel (the protocol and
//     state class: TCP listen, UDP bound, TCP connection) never seen on it in
//     training: the "alert on anything new" rule of thumb.
//   - IQR flags a round whose number of ports on a channel lies outside
//     [Q1 - 1.5 IQR, Q3 + 1.5 IQR] of the training rounds' numbers: the
//     per-round count outlier test of netflow-style tools.
//
// Both read the channels of a features.Layout. Over tcp_listen, udp_bound
// and tcp_conn, Unseen is the rule as usually stated, and flags nearly every
// round: client connections draw from 28232 ephemeral ports, and days of
// training see only part of them. Over tcp_listen alone it is the
// "new listening port" rule, which never errs on a steady host but sees
// nothing that is not a new listener.
package baseline

import (
	"fmt"
	"math"
	"slices"

	"portwatch/internal/eval/quality"
	"portwatch/pkg/features"
	"portwatch/pkg/store"
)

// Unseen flags ports never seen on their channel in training.
type Unseen struct {
	layout features.Layout
	seen   []map[uint16]bool // per channel
}

var _ quality.Detector = (*Unseen)(nil)

// NewUnseen returns an untrained Unseen over layout's channels.
func NewUnseen(layout features.Layout) *Unseen { return &Unseen{layout: layout} }

// Train records every port seen on each channel.
func (d *Unseen) Train(rounds []store.Round) error {
	d.seen = make([]map[uint16]bool, d.layout.C())
	for c := range d.seen {
		d.seen[c] = map[uint16]bool{}
		for i := range rounds {
			for _, p := range d.layout.Ports(&rounds[i], c) {
				d.seen[c][p] = true
			}
		}
	}
	return nil
}

// Score flags rounds with a new port; the score is how many there are.
func (d *Unseen) Score(rounds []store.Round) ([]quality.Verdict, error) {
	if d.seen == nil {
		return nil, fmt.Errorf("unseen-port baseline: score before training")
	}
	return verdicts(rounds, func(r *store.Round) float64 {
		n := 0
		for c := range d.seen {
			for _, p := range d.layout.Ports(r, c) {
				if !d.seen[c][p] {
					n++
				}
			}
		}
		return float64(n)
	}), nil
}

// IQR flags per-channel port counts outside Tukey's fences.
type IQR struct {
	layout features.Layout
	lo, hi []float64 // fences per channel
	spread []float64 // IQR per channel, at least 1, to scale the score
}

var _ quality.Detector = (*IQR)(nil)

// NewIQR returns an untrained IQR over layout's channels.
func NewIQR(layout features.Layout) *IQR { return &IQR{layout: layout} }

// Train sets each channel's fences from the training rounds' counts.
func (d *IQR) Train(rounds []store.Round) error {
	if len(rounds) == 0 {
		return fmt.Errorf("iqr baseline: no training rounds")
	}
	c := d.layout.C()
	d.lo, d.hi, d.spread = make([]float64, c), make([]float64, c), make([]float64, c)
	counts := make([]float64, len(rounds))
	for ch := range c {
		for i := range rounds {
			counts[i] = float64(len(d.layout.Ports(&rounds[i], ch)))
		}
		slices.Sort(counts)
		q1, q3 := quantile(counts, 0.25), quantile(counts, 0.75)
		d.lo[ch], d.hi[ch] = q1-1.5*(q3-q1), q3+1.5*(q3-q1)
		d.spread[ch] = math.Max(q3-q1, 1)
	}
	return nil
}

// Score flags rounds with a count outside its fences; the score is the
// largest distance outside, in IQRs.
func (d *IQR) Score(rounds []store.Round) ([]quality.Verdict, error) {
	if d.lo == nil {
		return nil, fmt.Errorf("iqr baseline: score before training")
	}
	return verdicts(rounds, func(r *store.Round) float64 {
		score := 0.0
		for ch := range d.lo {
			n := float64(len(d.layout.Ports(r, ch)))
			dist := math.Max(d.lo[ch]-n, n-d.hi[ch])
			score = math.Max(score, dist/d.spread[ch])
		}
		return score
	}), nil
}

// verdicts scores each round; a positive score flags it.
func verdicts(rounds []store.Round, score func(*store.Round) float64) []quality.Verdict {
	out := make([]quality.Verdict, len(rounds))
	for i := range rounds {
		s := score(&rounds[i])
		out[i] = quality.Verdict{Round: i, Anomalous: s > 0, Score: s}
	}
	return out
}

// quantile of sorted values, interpolating linearly between order statistics.
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (pos-float64(i))*(sorted[i+1]-sorted[i])
}
