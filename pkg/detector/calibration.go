package detector

import (
	"fmt"
	"math"

	"portwatch/pkg/threshold"
)

// calibration holds a limit per statistic, each at half the false-alarm
// rate asked for, so that a normal round exceeds either with probability at
// most the rate (the union bound). Total gets a peaks-over-threshold fit.
// Peak is bounded by -ln(eps) and takes a few values (a fresh ephemeral
// port, a port never used), where a tail fit means nothing: its limit is the
// largest peak of the normal rounds seen so far (pkg/threshold's bounded
// mode) plus peakMargin.
//
// A round's score is how far it is past the nearer limit: the larger of
// Total/limit and Peak/limit, so 1 is the threshold for every round and a
// score of 3 means three times a limit.
type calibration struct {
	Total *threshold.SPOT `json:"total"`
	Peak  *threshold.SPOT `json:"peak"`
}

// calibrate fits both limits to the statistics of normal rounds.
func calibrate(sts []stats, risk float64) (*calibration, error) {
	totals, peaks := split(sts)
	t, err := threshold.Calibrate(totals, risk/2)
	if err != nil {
		return nil, fmt.Errorf("calibrate total: %w", err)
	}
	p, err := threshold.CalibrateBounded(peaks, risk/2)
	if err != nil {
		return nil, fmt.Errorf("calibrate peak: %w", err)
	}
	return &calibration{Total: t, Peak: p}, nil
}

// update adds the statistics of rounds judged normal to both fits.
func (c *calibration) update(sts []stats) error {
	totals, peaks := split(sts)
	if err := c.Total.Update(totals); err != nil {
		return fmt.Errorf("update total: %w", err)
	}
	if err := c.Peak.Update(peaks); err != nil {
		return fmt.Errorf("update peak: %w", err)
	}
	return nil
}

// peakMargin is how much more surprising than any normal round's a cell
// must be to count, in nats: ln 2, half as likely. Refits nudge the model's
// probabilities, so a cell of a kind seen before (a fresh DNS client port)
// must not cross the limit by a rounding error.
const peakMargin = math.Ln2

// totalMargin keeps the limit on Total at least 1+totalMargin times the
// largest normal Total seen. Total follows the host's activity: a fitted tail
// with an end point (γ < 0) puts the limit just past the busiest training
// hour, and a busier Monday morning is not an anomaly. What Total is for,
// hundreds of ports changing at once, lands far beyond.
const totalMargin = 0.5

// score is a round's score: past 1 it is anomalous.
func (c *calibration) score(st stats) float64 {
	return max(ratio(st.Total, c.totalLimit()), ratio(st.Peak, c.peakLimit()))
}

// totalLimit is the limit on Total.
func (c *calibration) totalLimit() float64 {
	return max(c.Total.Threshold, (1+totalMargin)*c.Total.Max)
}

// peakLimit is the limit on Peak.
func (c *calibration) peakLimit() float64 { return c.Peak.Threshold + peakMargin }

// ratio is x over limit; a zero limit (all calibration values zero) makes
// any positive x infinitely far past it, so it is capped to stay printable.
func ratio(x, limit float64) float64 {
	if limit <= 0 {
		if x <= 0 {
			return 0
		}
		return 1e9
	}
	return x / limit
}

func split(sts []stats) (totals, peaks []float64) {
	totals = make([]float64, len(sts))
	peaks = make([]float64, len(sts))
	for i, s := range sts {
		totals[i], peaks[i] = s.Total, s.Peak
	}
	return totals, peaks
}
