package pcaptl

import "math"

// RatioRule is the netspot-style baseline: a round is anomalous when its
// distinct destination ports over distinct source ports, or its share of
// SYNs without ACK among TCP segments, is above RatioFactor times its
// highest value in the training rounds.
type RatioRule struct {
	MaxPortRatio, MaxSYNShare float64 // over the training rounds
}

// RatioFactor is how far above its training maximum a figure must go.
const RatioFactor = 1.5

// TrainRatio learns the rule's maxima from training rounds.
func TrainRatio(train []Round) RatioRule {
	var r RatioRule
	for i := range train {
		r.MaxPortRatio = max(r.MaxPortRatio, train[i].PortRatio())
		r.MaxSYNShare = max(r.MaxSYNShare, train[i].SYNShare())
	}
	return r
}

// Score is the larger of a round's two figures over its limit: above 1 is anomalous.
func (r RatioRule) Score(rd *Round) float64 {
	return max(over(rd.PortRatio(), RatioFactor*r.MaxPortRatio), over(rd.SYNShare(), RatioFactor*r.MaxSYNShare))
}

// Anomalous applies the rule to a round.
func (r RatioRule) Anomalous(rd *Round) bool { return r.Score(rd) > 1 }

// over is v over limit; any v above a limit of 0 is infinitely over.
func over(v, limit float64) float64 {
	switch {
	case limit > 0:
		return v / limit
	case v > 0:
		return math.Inf(1)
	}
	return 0
}

// ZeekRule is Zeek's scan policy as a baseline: a round is anomalous when
// a scanner crossed a threshold in it (see Round.Scans); its score is
// Round.ScanPeak.
type ZeekRule struct{}

// Score is the round's highest scan count over its threshold.
func (ZeekRule) Score(rd *Round) float64 { return rd.ScanPeak }

// Anomalous applies the policy to a round.
func (ZeekRule) Anomalous(rd *Round) bool { return len(rd.Scans) > 0 }
