package features

import (
	"fmt"
	"portwatch/pkg/store"
	"slices"
	"time"
)

// Window is T consecutive rounds, oldest first; the last is the one scored.
type Window struct {
	Rounds []*store.Round
	// Padded counts the leading entries that repeat the first round after a
	// gap (or of the data) because fewer than T-1 rounds precede the target.
	Padded int
}

// Last returns the window's target round.
func (w Window) Last() *store.Round { return w.Rounds[len(w.Rounds)-1] }

// gapFactor times the median spacing is the longest pause that does not
// break the chain of rounds.
const gapFactor = 3

// MaxGap returns the longest spacing between consecutive rounds that keeps
// them in one chain: gapFactor times the median spacing. It returns 0 when
// fewer than two rounds are given.
func MaxGap(rounds []store.Round) time.Duration {
	if len(rounds) < 2 {
		return 0
	}
	d := make([]time.Duration, len(rounds)-1)
	for i := range d {
		d[i] = rounds[i+1].Start.Sub(rounds[i].Start)
	}
	slices.Sort(d)
	return gapFactor * d[len(d)/2]
}

// Windows returns one window of t rounds ending at each round, in order.
// rounds must be ordered by id (as Load returns them). The chain breaks
// where the spacing exceeds MaxGap(rounds) or goes backwards; see the
// package doc for the padding of windows after a break.
func Windows(rounds []store.Round, t int) ([]Window, error) {
	if t < 1 {
		return nil, fmt.Errorf("window length %d: want at least 1", t)
	}
	maxGap := MaxGap(rounds)
	out := make([]Window, len(rounds))
	ptrs := make([]*store.Round, len(rounds)*t) // one allocation backs every window
	first := 0                                  // index of the first round of the current chain
	for i := range rounds {
		if i > 0 {
			if d := rounds[i].Start.Sub(rounds[i-1].Start); d < 0 || d > maxGap {
				first = i
			}
		}
		w := ptrs[i*t : (i+1)*t : (i+1)*t]
		pad := max(0, t-1-(i-first))
		for k := range w {
			w[k] = &rounds[max(first, i-(t-1)+k)]
		}
		out[i] = Window{Rounds: w, Padded: pad}
	}
	return out, nil
}
