package detector

import (
	"fmt"
	"math"

	"portwatch/pkg/modelfile"
	"portwatch/pkg/threshold"
)

// calibration holds a limit per statistic, each at a third of the
// false-alarm rate asked for, so that a normal round exceeds any with
// probability at most the rate (the union bound). Total gets a
// peaks-over-threshold fit. Peak and Hour are bounded by -ln(eps) and take a
// few values (a fresh ephemeral port, a port never used; a service at the
// edge of its hours), where a tail fit means nothing: each limit is the
// largest value of the normal rounds seen so far (pkg/threshold's bounded
// mode) plus peakMargin.
//
// A round's score is how far it is past the nearest limit: the largest of
// Total/limit, Peak/limit, Hour/limit, Start/limit, Load/limit and each
// traffic figure's over its limit (see trafficStats), so 1 is the
// threshold for every round and a score of 3 means three times a limit;
// a model of traffic alone takes the traffic figures' only (see score).
// Hour, Start and Load are nil in model files from before them, which are
// scored without them; Traffic is nil in models trained on rounds without
// a capture. Start, like Peak, is bounded and takes the largest normal
// value plus peakMargin; Load takes its theoretical limit (see loadLimit).
//
// Its fields are the model file's portwatch.calibration (modelfile.Calibration).
type calibration modelfile.Calibration

// statistics is how many statistics a calibration splits the risk among:
// total (or excess), peak, hour, start, load and gone. The traffic figures
// share one part.
const statistics = 7

// scalar is one of a round's scalar statistics and its limit's place in a
// calibration. Bounded statistics take few values up to -ln eps, where a
// tail fit means nothing: their fit is the largest normal value.
type scalar struct {
	name    string
	bounded bool
	value   func(stats) float64
	limit   func(*calibration) **threshold.SPOT
}

// scalars are the scalar statistics a calibration fits.
func scalars() []scalar {
	return []scalar{
		{"total", false, func(s stats) float64 { return s.Total }, func(c *calibration) **threshold.SPOT { return &c.Total }},
		{"excess", false, func(s stats) float64 { return s.Excess }, func(c *calibration) **threshold.SPOT { return &c.Excess }},
		{"peak", true, func(s stats) float64 { return s.Peak }, func(c *calibration) **threshold.SPOT { return &c.Peak }},
		{"hour", true, func(s stats) float64 { return s.Hour }, func(c *calibration) **threshold.SPOT { return &c.Hour }},
		{"start", true, func(s stats) float64 { return s.Start }, func(c *calibration) **threshold.SPOT { return &c.Start }},
		{"load", true, func(s stats) float64 { return s.Load }, func(c *calibration) **threshold.SPOT { return &c.Load }},
		{"gone", true, func(s stats) float64 { return s.Gone }, func(c *calibration) **threshold.SPOT { return &c.Gone }},
	}
}

// column returns one statistic of each of sts.
func (sc scalar) column(sts []stats) []float64 {
	out := make([]float64, len(sts))
	for i, s := range sts {
		out[i] = sc.value(s)
	}
	return out
}

// calibrate fits the limits to the statistics of normal rounds. Total is
// calibrated too, though rounds are judged on Excess, so that the file
// still reads as before to a detect that knows only Total.
func calibrate(sts []stats, risk float64) (*calibration, error) {
	c := &calibration{}
	for _, sc := range scalars() {
		fit := threshold.Calibrate
		if sc.bounded {
			fit = threshold.CalibrateBounded
		}
		sp, err := fit(sc.column(sts), risk/statistics)
		if err != nil {
			return nil, fmt.Errorf("calibrate %s: %w", sc.name, err)
		}
		*sc.limit(c) = sp
	}
	var err error
	if c.Traffic, err = calibrateTraffic(sts, risk/statistics); err != nil {
		return nil, err
	}
	return c, nil
}

// update adds the statistics of rounds judged normal to the fits; a
// statistic the file has no limit for (one from before it) stays without.
func (c *calibration) update(sts []stats) error {
	for _, sc := range scalars() {
		sp := *sc.limit(c)
		if sp == nil {
			continue
		}
		if err := sp.Update(sc.column(sts)); err != nil {
			return fmt.Errorf("update %s: %w", sc.name, err)
		}
	}
	var err error
	c.Traffic, err = updateTraffic(c.Traffic, sts, c.Peak.Q)
	return err
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

// score is a round's score: past 1 it is anomalous. A round scored by a
// model of traffic alone (trafficOnly) is judged on the traffic statistics
// only. Such a model's cells are peers_in, the addresses each local port
// heard from, and background the training never had (NTP from 35
// addresses, a peer-to-peer client's port) lights ports it ruled out: its
// volume and peak then flag a source for being new, which the traffic
// statistics, counts against calibrated limits, never do. Hour, start,
// load and gone read socket scans, which capture rounds lack.
func (c *calibration) score(st stats, trafficOnly bool) float64 {
	tr := trafficRatio(c.Traffic, st.Traffic)
	if trafficOnly {
		return tr
	}
	return max(c.volumeRatio(st), ratio(st.Peak, c.peakLimit()), c.hourRatio(st), c.startRatio(st), c.loadRatio(st),
		c.goneRatio(st), tr)
}

// volumeRatio is the statistic of how much is in use over its limit: Excess
// where the file has its limit, Total in files from before it.
func (c *calibration) volumeRatio(st stats) float64 {
	if c.Excess == nil {
		return ratio(st.Total, c.totalLimit())
	}
	return ratio(st.Excess, c.excessLimit())
}

// excessLimit is the limit on Excess; c.Excess must be set. The margin is
// Total's, on the largest normal Excess seen.
func (c *calibration) excessLimit() float64 {
	return max(c.Excess.Threshold, (1+totalMargin)*c.Excess.Max)
}

// hourRatio is the Hour statistic over its limit, 0 without one.
func (c *calibration) hourRatio(st stats) float64 {
	if c.Hour == nil {
		return 0
	}
	return ratio(st.Hour, c.hourLimit())
}

// hourLimit is the limit on Hour; c.Hour must be set.
func (c *calibration) hourLimit() float64 { return boundedLimit(c.Hour.Threshold) }

// startRatio is the Start statistic over its limit, 0 without one.
func (c *calibration) startRatio(st stats) float64 {
	if c.Start == nil {
		return 0
	}
	return ratio(st.Start, c.startLimit())
}

// startLimit is the limit on Start; c.Start must be set. Start is a lift,
// not a cell of the model's, so the -ln eps cap of boundedLimit does not apply.
func (c *calibration) startLimit() float64 { return c.Start.Threshold + peakMargin }

// loadRatio is the Load statistic over its limit, 0 without one.
func (c *calibration) loadRatio(st stats) float64 {
	if c.Load == nil {
		return 0
	}
	return ratio(st.Load, c.loadLimit())
}

// loadLimit is the limit on Load; c.Load must be set. Load is a Poisson
// deviance over the host's dispersion, about -ln P of the round's
// connections, so a Poisson count passes -ln Q at rate Q; a host's days
// differ more than that (a Monday busier than the training's Saturday at
// the job's minute), so the floor is totalMargin above it, raised to the
// largest normal value where that is more. Never a margin over the largest
// normal value, as Total has: each refit adds the rounds just under the
// limit to the normal ones, and such a limit would climb with every run.
func (c *calibration) loadLimit() float64 {
	return max(c.Load.Threshold, -(1+totalMargin)*math.Log(c.Load.Q))
}

// goneRatio is the Gone statistic over its limit, 0 without one.
func (c *calibration) goneRatio(st stats) float64 {
	if c.Gone == nil {
		return 0
	}
	return ratio(st.Gone, c.goneLimit())
}

// goneLimit is the limit on Gone; c.Gone must be set. Bounded as Peak is,
// though a run of rounds may cost more than -ln eps: a listener missing
// passes it when its run is as unlikely as a port the model rules out.
func (c *calibration) goneLimit() float64 { return boundedLimit(c.Gone.Threshold) }

// totalLimit is the limit on Total.
func (c *calibration) totalLimit() float64 {
	return max(c.Total.Threshold, (1+totalMargin)*c.Total.Max)
}

// peakLimit is the limit on Peak: at least PeakFloor, so that a listener
// seen once in training (a weekly job) is no anomaly by its start alone,
// however well the model predicts the host's other listeners; a port never
// seen (-ln eps) still is.
func (c *calibration) peakLimit() float64 {
	return max(boundedLimit(c.Peak.Threshold), min(c.PeakFloor, -math.Log(eps)-peakMargin))
}

// boundedLimit is the limit of a bounded statistic whose largest normal
// value is threshold: peakMargin over it, and at most peakMargin under what
// a cell the model rules out costs (-ln eps). Each refit adds normal
// rounds, and one just under the limit raises it by peakMargin; left to
// climb, the limit would pass -ln eps and no new listener could ever pass
// it. Capped, a port the model rules out stays an anomaly.
func boundedLimit(threshold float64) float64 {
	return min(threshold+peakMargin, -math.Log(eps)-peakMargin)
}

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
