package detector

import (
	"math"
	"slices"
	"time"

	"portwatch/pkg/features"
	"portwatch/pkg/store"
)

// seasonal is the seasonal ablation (AblateSeasonal): each listening cell's
// training frequency, shifted in logit by an offset per (channel, pattern),
// where the pattern is what the port did the round before, an hour before
// and a day before. The offsets are shared by every port of a
// channel, so what one service teaches (a listener that listened at this
// minute yesterday and an hour ago is likely listening now) holds for every
// other: a per-port table, even one per minute of the hour, cannot say
// that. It is the bar the autoencoder's time-awareness is measured by, and
// the lags are what a model given the calendar would need to see.
//
// Only listeners that come and go are shifted (a training frequency within
// [seasonalFrom, seasonalTo]): a service always there keeps its rate, so
// that the pattern does not make its one restart cost -ln eps, and a port
// seen once or twice stays the stranger it is. Only rounds judged normal
// are looked back at (the training's, and each refit's): an anomaly is no
// precedent, or a service that listened at 03:00 once would be expected,
// and its absence alarm, every day at 03:00 after.
type seasonal struct {
	l      features.Layout
	base   []float64                   // the table's prediction, per cell
	active [][]uint16                  // per channel, the ports shifted
	offset [][seasonalPatterns]float64 // per channel and pattern, in logit
	rounds []*store.Round              // the normal rounds, by start: where the lags are looked up
	ports  map[int64][][]uint16        // per round id, per channel: the ports in use
}

// seasonalLags are the lags looked back at, besides the round before. Not
// a week: ten days of training hold a week-lag round for three of them, too
// few to fit its patterns, and with a week lag a dev server whose office
// hours vary by the day was expected by what it did a week before, its
// absence 30 and 23 false alarms on seed 5's server and busy server (1
// each without).
var seasonalLags = [...]time.Duration{time.Hour, 24 * time.Hour}

const (
	// seasonalPatterns: the round before (in use or not) times, per lag,
	// in use, not in use, or no round then (a host asleep, a history too short).
	seasonalPatterns = 2 * 3 * 3
	seasonalSlack    = 40 * time.Second // a lag's round may start this far from its time
	seasonalBin      = 0.1              // width in logit of the bins the offsets are fitted on
	seasonalRidge    = 0.05             // pulls an offset little seen toward 0
	seasonalFrom     = 1e-4
	seasonalTo       = 0.99
)

// newSeasonal fits the offsets on the training windows ws, given base,
// the table's per-cell frequencies: per channel and pattern, the offset of
// greatest penalised likelihood, by Newton's method on counts binned by
// the cells' base logit.
func newSeasonal(l features.Layout, ws []features.Window, base []float64) *seasonal {
	s := &seasonal{l: l, base: base, active: make([][]uint16, l.C()),
		offset: make([][seasonalPatterns]float64, l.C()), ports: map[int64][][]uint16{}}
	for _, w := range ws {
		for _, r := range w.Rounds {
			s.remember(r)
		}
	}
	type key struct{ pattern, bin int }
	for c, name := range l.Channels() {
		if !features.Listening(name) {
			continue
		}
		for _, r := range s.rounds {
			s.active[c] = append(s.active[c], s.inUse(r)[c]...)
		}
		slices.Sort(s.active[c])
		s.active[c] = slices.Compact(s.active[c])
		s.active[c] = slices.DeleteFunc(s.active[c], func(p uint16) bool {
			b := base[c*features.Ports+int(p)]
			return b < seasonalFrom || b > seasonalTo
		})
		counts := map[key]*[2]float64{} // absent, present
		for _, w := range ws {
			for _, p := range s.active[c] {
				pat, y := s.pattern(w, c, p)
				k := key{pat, int(math.Round(logit(base[c*features.Ports+int(p)]) / seasonalBin))}
				if counts[k] == nil {
					counts[k] = new([2]float64)
				}
				counts[k][y]++
			}
		}
		for pat := range seasonalPatterns {
			var a float64
			for range 30 {
				g, h := -seasonalRidge*a, seasonalRidge
				for k, n := range counts {
					if k.pattern == pat {
						q := sigmoid(float64(k.bin)*seasonalBin + a)
						g += n[1]*(1-q) - n[0]*q
						h += (n[0] + n[1]) * q * (1 - q)
					}
				}
				step := max(-2, min(2, g/h))
				a += step
				if math.Abs(step) < 1e-6 {
					break
				}
			}
			s.offset[c][pat] = a
		}
	}
	return s
}

// adjust rewrites plane, w's last round's prediction, at the shifted cells.
func (s *seasonal) adjust(plane []float32, w features.Window) {
	for c, ports := range s.active {
		for _, p := range ports {
			pat, _ := s.pattern(w, c, p)
			i := c*features.Ports + int(p)
			plane[i] = float32(min(max(sigmoid(logit(s.base[i])+s.offset[c][pat]), eps), 1-eps))
		}
	}
}

// remember adds r, a normal round, to the history, kept in order of start.
func (s *seasonal) remember(r *store.Round) {
	i, found := slices.BinarySearchFunc(s.rounds, r.Start, func(q *store.Round, t time.Time) int { return q.Start.Compare(t) })
	if found && s.rounds[i].ID == r.ID {
		return
	}
	s.rounds = slices.Insert(s.rounds, i, r)
}

// inUse returns r's ports in use per channel, computed once per round.
func (s *seasonal) inUse(r *store.Round) [][]uint16 {
	if pc, ok := s.ports[r.ID]; ok {
		return pc
	}
	pc := make([][]uint16, s.l.C())
	for c := range pc {
		pc[c] = s.l.Ports(r, c)
	}
	s.ports[r.ID] = pc
	return pc
}

// at returns the round of the history starting nearest after t-seasonalSlack,
// if it starts by t+seasonalSlack.
func (s *seasonal) at(t time.Time) *store.Round {
	i, _ := slices.BinarySearchFunc(s.rounds, t.Add(-seasonalSlack), func(q *store.Round, t time.Time) int { return q.Start.Compare(t) })
	if i < len(s.rounds) && s.rounds[i].Start.Sub(t) <= seasonalSlack {
		return s.rounds[i]
	}
	return nil
}

// pattern returns port's pattern on channel c for w's last round, and 1 if
// that round has the port in use, 0 if not.
func (s *seasonal) pattern(w features.Window, c int, port uint16) (pattern, y int) {
	has := func(r *store.Round) int {
		if _, found := slices.BinarySearch(s.inUse(r)[c], port); found {
			return 1
		}
		return 0
	}
	last := w.Last()
	if n := len(w.Rounds); n > 1 && w.Rounds[n-2] != last {
		pattern = has(w.Rounds[n-2])
	}
	place := 2
	for _, lag := range seasonalLags {
		state := 2
		if r := s.at(last.Start.Add(-lag)); r != nil {
			state = has(r)
		}
		pattern += state * place
		place *= 3
	}
	return pattern, has(last)
}

func logit(p float64) float64 { return math.Log(p / (1 - p)) }

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
