package detector

import (
	"math"
	"slices"

	"portwatch/pkg/features"
)

// goneFrom is the least a listener's predicted presence must be for its
// absence to count in Gone: more likely there than not.
const goneFrom = 0.5

// gone returns the Gone statistic of w's last round and its cell: the
// largest, over the listening cells the reconstruction expected (at least
// goneFrom) and the round lacks, of the cell's surprise times the rounds
// of the window it has been missing for before this one. A service
// restarted each night is gone for one round a day, which its rate prices
// at ln(1440) ≈ 7.3 nats, under the peak's limit, and Gone at 0; gone for
// good, it costs that again in its second round, past the limit of a host
// whose listeners are never gone longer than a round. The first round is
// Peak's to judge, so a daily restart the hold-out never drew (one in five
// windows) cannot set the limit. A listener the model is less sure of (a
// dev server) must stay away longer.
func gone(l features.Layout, w features.Window, target, recon []float32) (float64, *Cell) {
	var worst float64
	var cell *Cell
	for c, name := range l.Channels() {
		if !features.Listening(name) {
			continue
		}
		row := c * features.Ports
		for port := range features.Ports {
			i := row + port
			if target[i] != 0 || recon[i] < goneFrom {
				continue
			}
			e := -math.Log1p(-min(float64(recon[i]), 1-eps))
			if s := e * float64(missingFor(l, w, c, uint16(port))-1); s > worst {
				worst = s
				cell = &Cell{Channel: c, Port: port, Observed: 0, Expected: recon[i], Error: s}
			}
		}
	}
	return worst, cell
}

// missingFor returns how many rounds at the end of w lack port on channel
// c: 1 for the last round alone, len(w.Rounds) when none of them has it.
func missingFor(l features.Layout, w features.Window, c int, port uint16) int {
	n := 0
	for i := len(w.Rounds) - 1; i >= 0; i-- {
		if _, found := slices.BinarySearch(l.Ports(w.Rounds[i], c), port); found {
			break
		}
		n++
	}
	return n
}
