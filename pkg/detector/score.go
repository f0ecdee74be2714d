package detector

import (
	"math"
	"slices"

	"portwatch/pkg/features"
)

// eps bounds predictions away from 0 and 1, so a cell costs at most
// -ln(eps) ≈ 13.8 nats: a port the model rules out costs the same wherever
// it is, and no cell's rounding decides a score.
const eps = 1e-6

// minEntropyP is the probability below which a cell's entropy is left out
// of Excess: the many ports a model rules out add a near-constant offset.
const minEntropyP = 1e-5

// Cell is one (channel, port) value of a round, with how much it cost.
type Cell struct {
	Channel  int
	Port     int
	Observed float32 // the round's value
	Expected float32 // the reconstruction's value
	Error    float64 // the cell's surprise, in nats
}

// stats are the statistics a round is judged on.
type stats struct {
	// Total is the round's negative log-likelihood under the reconstruction
	// read as independent per-cell Bernoulli probabilities: the sum of the
	// cells' binary cross-entropy. It is what grows when many ports change
	// at once (a runaway client filling the ephemeral range).
	Total float64 `json:"total"`
	// Excess is Total less what the model itself expects Total to be (the
	// entropy of its per-cell probabilities): near 0 when the round is as
	// busy as the model foresaw, whatever that is, and large when more is in
	// use than it foresaw. A model that forecasts with the clock expects the
	// hourly job's dozens of fresh ephemeral ports at the job's minute, so
	// the burst costs nothing there and a great deal at another minute,
	// while Total counts the burst's ports the same at any minute.
	Excess float64 `json:"excess"`
	// Peak is the largest single listening cell's cross-entropy (client
	// ports are pooled, see channelRule): one port the model ruled out (a
	// new listener) or was sure of (a vanished service). Its
	// own statistic, because in Total it drowns in the churn of ephemeral
	// ports, dozens of which open every minute at a few nats each.
	Peak float64 `json:"peak"`
	// Hour is the largest surprise of a listening port's presence at the
	// round's hour of the day (see hours): a service that listens at 02:00
	// listening at 14:00. Zero for models without hour counts.
	Hour float64 `json:"hour"`
	// Start is the largest surprise of a listener starting at the round's
	// minute of the hour (see phase): a batch job's admin port that opens
	// at minute 26 of every hour opening at minute 7.
	Start float64 `json:"start"`
	// Load is the deviance of the round's client connections past the
	// usual at its hour and minute (see phase.load): an hourly job's
	// burst at another minute.
	Load float64 `json:"load"`
	// Gone is the largest surprise of a listener missing, times the rounds
	// it has been missing for (see gone): a service restarted each night,
	// gone for good.
	Gone float64 `json:"gone"`
	// Traffic are the round's traffic figures (see trafficStats), nil for
	// a round without a traffic summary.
	Traffic []float64 `json:"traffic,omitempty"`
}

// channelRule is how score judges a channel's cells. A skipped channel is
// not judged (the clock: an input, not an outcome). A pooled channel's cell
// in use is read at no less than pooledFloor: a client port, however
// unlikely the model made it, never costs what a listener nobody has seen
// does, so that a model sure a minute's ephemeral ports stay empty cannot
// make a DNS query look like a new service. A pooled channel's cells count in Total and Excess but not in
// Peak: nearly every round draws a fresh ephemeral port at the floor, which
// would be every round's peak and bury a listener's surprise under it (a
// service missing at its minute of the hour, ~5 nats), and a client port's
// one cell says little; many at once are Excess's and Load's to judge.
type channelRule struct {
	skip, pooled bool
}

// rulesFor returns the rules of the channels of l: the clock skipped, the
// connection and UDP channels pooled and floored at pooledFloor (the least
// rate basePrior gives a port of a range in use), listeners at eps.
func rulesFor(l features.Layout) []channelRule {
	rules := make([]channelRule, l.C())
	for c, name := range l.Channels() {
		switch {
		case l.IsClock(c):
			rules[c].skip = true
		case !features.Listening(name):
			rules[c].pooled = true
		}
	}
	return rules
}

// score returns a round's statistics and its top k cells by error, largest
// first. Sums over cells, never means, so that one port's change counts the
// same however many of the 196,608 cells are empty; cross-entropy, so that a
// port predicted at p = 0.001 costs 6.9 nats while the many ports rightly
// predicted empty cost almost nothing. It is also the training loss.
//
// rules, per channel, say how its cells are judged (nil: all alike).
func score(target, recon []float32, ports, k int, rules []channelRule) (stats, []Cell) {
	var st stats
	top := make([]Cell, 0, k+1)
	for i, y := range target {
		lo, pooled := eps, false
		if rules != nil {
			r := rules[i/ports]
			if r.skip {
				continue
			}
			if pooled = r.pooled; pooled && y != 0 {
				lo = pooledFloor
			}
		}
		p := min(max(float64(recon[i]), lo), 1-eps)
		var e, h float64
		if y == 0 && p < 1e-3 {
			e = p + p*p/2 // -ln(1-p) to 1e-9; spares a log for the empty ports
		} else {
			yy := float64(y)
			e = -(yy*math.Log(p) + (1-yy)*math.Log1p(-p))
		}
		// The cell's expected cost, its entropy; below minEntropyP it is
		// under 1.3e-4 nats, nearly the same for every round, and spared.
		if p >= minEntropyP {
			h = -(p*math.Log(p) + (1-p)*math.Log1p(-p))
		}
		st.Total += e
		st.Excess += e - h
		if !pooled {
			st.Peak = max(st.Peak, e)
		}
		if k == 0 || (len(top) == k && e <= top[k-1].Error) {
			continue
		}
		c := Cell{Channel: i / ports, Port: i % ports, Observed: y, Expected: recon[i], Error: e}
		j, _ := slices.BinarySearchFunc(top, e, func(c Cell, e float64) int {
			if c.Error > e {
				return -1
			}
			return 1
		})
		top = slices.Insert(top, j, c)
		if len(top) > k {
			top = top[:k]
		}
	}
	return st, top
}
