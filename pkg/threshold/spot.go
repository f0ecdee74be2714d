// Package threshold turns a sample of normal anomaly scores into a decision
// threshold with a stated false-alarm rate, by peaks-over-threshold (SPOT,
// Siffer et al., KDD 2017: "Anomaly Detection in Streams with Extreme Value
// Theory").
//
// The scores above a high empirical quantile t (the peaks) are fitted with a
// generalized Pareto distribution (GPD) by Grimshaw's maximum-likelihood
// method, and the threshold z is the score a new normal observation exceeds
// with probability Q:
//
//	z = t + (σ/γ)·((Q·n/Nt)^(-γ) - 1)     (γ ≠ 0)
//	z = t - σ·ln(Q·n/Nt)                  (γ = 0)
//
// where n is the number of scores seen and Nt the number of peaks. With fewer
// than MinSamples scores, or when no fit is possible, z falls back to the
// empirical quantile at level 1 - Q: with fewer than 1/Q samples that is
// their maximum, the strictest threshold the data can support.
//
// A SPOT is plain data and marshals to JSON, so it can live in the model
// file's metadata and be updated with each run's normal scores (Update).
package threshold

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Method names how a threshold was obtained.
const (
	MethodPOT      = "pot"      // GPD fitted to the peaks over t
	MethodQuantile = "quantile" // empirical quantile fallback
)

const (
	// MinSamples is the fewest scores a GPD fit is attempted on.
	MinSamples = 50
	// minPeaks is the fewest peaks the initial level leaves above t.
	minPeaks = 10
	// maxLevel is the initial quantile level with enough samples (Siffer's 0.98).
	maxLevel = 0.98
	// maxPeaks bounds the peaks kept for refits, so the state stays small
	// however long it is updated; the oldest are dropped first.
	maxPeaks = 2000
)

// ErrNoScores reports a calibration with nothing to calibrate on.
var ErrNoScores = errors.New("no scores to calibrate on")

// SPOT is the state of a peaks-over-threshold calibration.
type SPOT struct {
	Q      float64   `json:"q"`                // risk: the false-alarm rate asked for
	N      int       `json:"n"`                // scores seen
	Init   float64   `json:"init"`             // t, the initial threshold
	Peaks  int       `json:"peaks"`            // Nt, scores seen above t
	Excess []float64 `json:"excess"`           // the latest peaks' excesses over t (at most maxPeaks)
	Max    float64   `json:"max"`              // largest score seen (for the fallback)
	Sorted []float64 `json:"sorted,omitempty"` // all scores, while fewer than MinSamples

	// Bounded marks a statistic with a ceiling and atoms (such as the
	// largest per-cell surprise, capped by clamped probabilities), where a
	// tail fit means nothing: its threshold is always the quantile fallback.
	Bounded bool `json:"bounded,omitempty"`

	Gamma     float64 `json:"gamma"`
	Sigma     float64 `json:"sigma"`
	Method    string  `json:"method"`
	Threshold float64 `json:"threshold"` // z
}

// Calibrate fits a threshold with risk q (0 < q < 1) to scores of normal data.
func Calibrate(scores []float64, q float64) (*SPOT, error) {
	return calibrate(scores, q, false)
}

// CalibrateBounded is Calibrate for a bounded statistic (see SPOT.Bounded):
// the threshold is the empirical quantile at level 1 - q of the scores seen.
func CalibrateBounded(scores []float64, q float64) (*SPOT, error) {
	return calibrate(scores, q, true)
}

func calibrate(scores []float64, q float64, bounded bool) (*SPOT, error) {
	if !(q > 0 && q < 1) {
		return nil, fmt.Errorf("risk q %g: want 0 < q < 1", q)
	}
	if len(scores) == 0 {
		return nil, ErrNoScores
	}
	if err := checkFinite(scores); err != nil {
		return nil, err
	}
	s := slices.Clone(scores)
	slices.Sort(s)
	n := len(s)
	level := min(maxLevel, 1-float64(minPeaks)/float64(n))
	sp := &SPOT{Q: q, N: n, Max: s[n-1], Bounded: bounded}
	if n < MinSamples {
		// Kept so that updates can reach MinSamples and start fitting.
		sp.Sorted = s
		sp.fallback(s)
		return sp, nil
	}
	sp.Init = quantile(s, level)
	for _, x := range s {
		if x > sp.Init {
			sp.Excess = append(sp.Excess, x-sp.Init)
		}
	}
	sp.Peaks = len(sp.Excess)
	sp.fit(s)
	return sp, nil
}

// Update adds scores judged normal and refits. Scores at or above the
// current threshold are the caller's anomalies and must not be passed.
func (sp *SPOT) Update(scores []float64) error {
	if err := checkFinite(scores); err != nil {
		return err
	}
	if sp.Sorted != nil {
		// Still in the small-sample regime: start over with everything.
		all := append(slices.Clone(sp.Sorted), scores...)
		fresh, err := calibrate(all, sp.Q, sp.Bounded)
		if err != nil {
			return err
		}
		*sp = *fresh
		return nil
	}
	for _, x := range scores {
		sp.N++
		sp.Max = max(sp.Max, x)
		if x > sp.Init {
			sp.Peaks++
			sp.Excess = append(sp.Excess, x-sp.Init)
		}
	}
	if k := len(sp.Excess) - maxPeaks; k > 0 {
		sp.Excess = slices.Delete(sp.Excess, 0, k)
	}
	sp.fit(nil)
	return nil
}

// Exceeds reports whether score is above the threshold.
func (sp *SPOT) Exceeds(score float64) bool { return score > sp.Threshold }

// maxGamma is the heaviest tail fit extrapolates. A GPD with γ >= 1 has no
// mean: peaks like that are a mixture (a training period with attacks in
// it), not a tail, and its quantile at a small Q runs to 1e40. The
// empirical quantile is then the honest limit.
const maxGamma = 1.0

// fit sets the GPD parameters and z from the peaks, falling back to the
// empirical quantile of sorted (or, when sorted is nil, the maximum seen:
// the quantile at 1 - Q as long as fewer than 1/Q scores have been seen).
func (sp *SPOT) fit(sorted []float64) {
	gamma, sigma, ok := fitGPD(sp.Excess)
	if !ok || sp.Peaks == 0 || sp.Bounded || gamma >= maxGamma {
		if sorted != nil {
			sp.fallback(sorted)
		} else {
			sp.Method, sp.Threshold = MethodQuantile, sp.Max
		}
		return
	}
	sp.Gamma, sp.Sigma, sp.Method = gamma, sigma, MethodPOT
	r := sp.Q * float64(sp.N) / float64(sp.Peaks)
	if math.Abs(gamma) < 1e-8 {
		sp.Threshold = sp.Init - sigma*math.Log(r)
	} else {
		sp.Threshold = sp.Init + sigma/gamma*(math.Pow(r, -gamma)-1)
	}
}

// fallback sets z to the empirical quantile at level 1 - Q.
func (sp *SPOT) fallback(sorted []float64) {
	sp.Method = MethodQuantile
	sp.Gamma, sp.Sigma = 0, 0
	sp.Threshold = quantile(sorted, 1-sp.Q)
}

// quantile is the empirical quantile of sorted data at level p: the smallest
// value x with at least a fraction p of the data at or below x, so that with
// fewer than 1/(1-p) values it is the maximum.
func quantile(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func checkFinite(scores []float64) error {
	for i, x := range scores {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("score %d is %g: scores must be finite", i, x)
		}
	}
	return nil
}
