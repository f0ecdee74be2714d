package detector

import (
	"math"
	"slices"
)

// eps bounds predictions away from 0 and 1, so a cell costs at most
// -ln(eps) ≈ 13.8 nats: one surprising port stands out without a single
// cell's rounding deciding the score.
const eps = 1e-6

// Cell is one (channel, port) value of a round, with how much it cost.
type Cell struct {
	Channel  int
	Port     int
	Observed float32 // the round's value
	Expected float32 // the reconstruction's value
	Error    float64 // the cell's share of the score, in nats
}

// score returns a round's score and its top k cells by error, largest first.
//
// The score is the round's negative log-likelihood under the reconstruction
// read as independent per-cell Bernoulli probabilities: the sum over channels
// and ports of the binary cross-entropy. A sum, not a mean, so that one new
// listener moves the score by the same amount however many of the 196,608
// cells are empty; cross-entropy rather than squared error, so that a port
// the model was sure about (p = 0.001) costs 6.9 nats while the many ports it
// rightly predicts empty cost almost nothing. It matches the training loss.
func score(target, recon []float32, ports, k int) (float64, []Cell) {
	var total float64
	top := make([]Cell, 0, k+1)
	for i, y := range target {
		p := min(max(float64(recon[i]), eps), 1-eps)
		var e float64
		switch {
		case y == 0 && p < 1e-3:
			e = p + p*p/2 // -ln(1-p) to 1e-9; spares a log for the empty ports
		default:
			yy := float64(y)
			e = -(yy*math.Log(p) + (1-yy)*math.Log1p(-p))
		}
		total += e
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
	return total, top
}
