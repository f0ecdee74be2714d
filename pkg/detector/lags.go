package detector

import (
	"context"
	"math"
	"slices"
	"time"

	"portwatch/pkg/features"
	"portwatch/pkg/portae"
	"portwatch/pkg/store"
)

// The lag term (portae v2, and the seasonal ablation it was first measured
// as): each listening cell's logit is shifted by an offset per (channel,
// pattern), the pattern being what the port did the round before, an hour
// before and a day before (portae.Pattern). The offsets are shared by every
// port of a channel, so what one service teaches (a listener that listened
// at this minute yesterday and an hour ago is likely listening now) holds
// for every other: a per-port table, even one per minute of the hour,
// cannot say that.
//
// A cell is shifted where there is a precedent: the port in use the round
// before, an hour before or a day before. A start without one (a backup
// whose hour varies by the night, a weekly job) keeps the port's own rate,
// as a window alone would give it: shifted down by the pattern it cost
// 10-12 nats, and 1-3 false alarms more on 4 of the first 7 hosts
// measured. Only a strict listener, one that in training never started
// without a precedent (an admin port at its minute of every hour), is
// shifted without one (portae.Unheralded): at another minute it is news.
//
// The listeners that come and go (a training frequency within [lagFrom,
// lagTo]) are shifted by every pattern; a port seen once or twice stays
// the stranger it is. A service nearly always there (above lagTo) is
// shifted by one pattern only, portae.Restart: gone a day before at this
// minute, so that a nightly restart is expected at its minute (at its rate
// alone it cost ln 1440 = 7.3 nats, over the peak limit of a model that
// predicts the host's other listeners well), while a restart without
// precedent keeps costing its rate, not -ln eps. Only rounds judged normal are looked
// back at (the training's, and each refit's; in a cron run those no
// anomaly names): an anomaly is no precedent, or a service that listened at
// 03:00 once would be expected, and its absence alarm, every day at 03:00
// after.

// lagTimes are the lags looked back at, besides the round before. Not a
// week: ten days of training hold a week-lag round for three of them, too
// few to fit its patterns, and with a week lag a dev server whose office
// hours vary by the day was expected by what it did a week before, its
// absence 30 and 23 false alarms on seed 5's server and busy server (1
// each without).
var lagTimes = [...]time.Duration{time.Hour, 24 * time.Hour}

const (
	lagSlack = 40 * time.Second // a lag's round may start this far from its time
	lagBin   = 0.1              // width in logit of the bins the offsets are fitted on
	lagRidge = 0.05             // pulls an offset little seen toward 0
	lagFrom  = 1e-4
	lagTo    = 0.99
)

// history is the normal rounds the lags are looked up in, by start.
type history struct {
	l      features.Layout
	rounds []*store.Round
	ports  map[int64][][]uint16 // per round id, per channel: the ports in use
}

func newHistory(l features.Layout) *history {
	return &history{l: l, ports: map[int64][][]uint16{}}
}

// remember adds r, a normal round, to the history, kept in order of start.
func (h *history) remember(r *store.Round) {
	i, found := slices.BinarySearchFunc(h.rounds, r.Start, func(q *store.Round, t time.Time) int { return q.Start.Compare(t) })
	if found && h.rounds[i].ID == r.ID {
		return
	}
	h.rounds = slices.Insert(h.rounds, i, r)
}

// inUse returns r's ports in use per channel, computed once per round.
func (h *history) inUse(r *store.Round) [][]uint16 {
	if pc, ok := h.ports[r.ID]; ok {
		return pc
	}
	pc := make([][]uint16, h.l.C())
	for c := range pc {
		pc[c] = h.l.Ports(r, c)
	}
	h.ports[r.ID] = pc
	return pc
}

// at returns the round of the history starting nearest after t-lagSlack,
// if it starts by t+lagSlack.
func (h *history) at(t time.Time) *store.Round {
	i, _ := slices.BinarySearchFunc(h.rounds, t.Add(-lagSlack), func(q *store.Round, t time.Time) int { return q.Start.Compare(t) })
	if i < len(h.rounds) && h.rounds[i].Start.Sub(t) <= lagSlack {
		return h.rounds[i]
	}
	return nil
}

// has reports whether r has port in use on channel c.
func (h *history) has(r *store.Round, c int, port uint16) bool {
	_, found := slices.BinarySearch(h.inUse(r)[c], port)
	return found
}

// cellKind is how the lag term treats a cell.
type cellKind int

const (
	// loose: a listener that comes and goes, shifted by the patterns with a
	// precedent; a start without one keeps its rate.
	loose cellKind = iota
	// strict: one that comes and goes and in training started only with a
	// precedent (strictStarts or more starts, at most strictShare of them
	// without): a start without one is portae.Unheralded, news.
	strict
	// steady: a service nearly always listening, shifted by
	// portae.Restart only.
	steady
	kinds
)

// A listener is strict after this many starts in training with both lags
// known, at most strictShare of them without a precedent.
const (
	strictStarts = 5
	strictShare  = 0.1
)

// lagStates returns, for w's last round, whether port was in use on
// channel c the round before, and its state at each lag.
func (h *history) lagStates(w features.Window, c int, port uint16) (before bool, states [len(lagTimes)]int) {
	last := w.Last()
	n := len(w.Rounds)
	before = n > 1 && w.Rounds[n-2] != last && h.has(w.Rounds[n-2], c, port)
	for k, lag := range lagTimes {
		states[k] = portae.NoRound
		if r := h.at(last.Start.Add(-lag)); r != nil {
			states[k] = portae.Absent
			if h.has(r, c, port) {
				states[k] = portae.Present
			}
		}
	}
	return before, states
}

// pattern returns the pattern input's value for port's cell on channel c,
// of kind k, for w's last round, and whether that round has the port in use.
func (h *history) pattern(w features.Window, c int, port uint16, k cellKind) (int64, bool) {
	before, states := h.lagStates(w, c, port)
	in := h.has(w.Last(), c, port)
	none := portae.NoPattern(h.l.C())
	switch {
	case k == steady && before && states[1] == portae.Absent:
		return portae.Restart(c), in
	case k == steady:
		return none, in
	case before || slices.Contains(states[:], portae.Present):
		return portae.Pattern(c, before, states[0], states[1]), in
	case k == strict && states == [len(lagTimes)]int{portae.Absent, portae.Absent}:
		return portae.Unheralded(c), in
	}
	// No precedent, or no round to tell: the port's own rate, as a window
	// alone would give it.
	return none, in
}

// fill writes w's pattern input, [C, 65536]: each cell of fit's its
// pattern, every other cell portae.NoPattern.
func (h *history) fill(dst []int64, w features.Window, fit lagFit) {
	none := portae.NoPattern(h.l.C())
	for i := range dst {
		dst[i] = none
	}
	fit.each(func(c int, p uint16, k cellKind) {
		dst[c*features.Ports+int(p)], _ = h.pattern(w, c, p, k)
	})
}

// lagFit is the lag term of a model: the cells it shifts, per kind and
// channel, and the offsets in logit, indexed by portae.Pattern.
type lagFit struct {
	cells   [kinds][][]uint16
	offsets []float64
}

// each calls f for each cell the term shifts.
func (fit lagFit) each(f func(c int, port uint16, k cellKind)) {
	for k, cells := range fit.cells {
		for c, ports := range cells {
			for _, p := range ports {
				f(c, p, cellKind(k))
			}
		}
	}
}

// fitLags fits the lag term on the training windows ws, given base, the
// cells' training frequencies: per channel and pattern, the offset of
// greatest penalised likelihood, by Newton's method on counts binned by the
// cells' base logit. The lags are looked up in h.
func fitLags(l features.Layout, ws []features.Window, base []float64, h *history) lagFit {
	fit := lagFit{offsets: make([]float64, l.C()*portae.Patterns)}
	for k := range fit.cells {
		fit.cells[k] = make([][]uint16, l.C())
	}
	type key struct {
		pattern int64
		bin     int
	}
	for c, name := range l.Channels() {
		if !features.Listening(name) {
			continue
		}
		var seen []uint16
		for _, w := range ws {
			seen = append(seen, h.inUse(w.Last())[c]...)
		}
		slices.Sort(seen)
		for _, p := range slices.Compact(seen) {
			switch b := base[c*features.Ports+int(p)]; {
			case b > lagTo:
				fit.cells[steady][c] = append(fit.cells[steady][c], p)
			case b >= lagFrom && h.strict(ws, c, p):
				fit.cells[strict][c] = append(fit.cells[strict][c], p)
			case b >= lagFrom:
				fit.cells[loose][c] = append(fit.cells[loose][c], p)
			}
		}
		counts := map[key]*[2]float64{} // absent, present
		for _, w := range ws {
			for k := range kinds {
				for _, p := range fit.cells[k][c] {
					pat, in := h.pattern(w, c, p, k)
					k := key{pat, int(math.Round(logit(base[c*features.Ports+int(p)]) / lagBin))}
					if counts[k] == nil {
						counts[k] = new([2]float64)
					}
					if in {
						counts[k][1]++
					} else {
						counts[k][0]++
					}
				}
			}
		}
		for pat := portae.Pattern(c, false, 0, 0); pat < portae.Pattern(c+1, false, 0, 0); pat++ {
			var a float64
			for range 30 {
				g, hess := -lagRidge*a, lagRidge
				for k, n := range counts {
					if k.pattern == pat {
						q := sigmoid(float64(k.bin)*lagBin + a)
						g += n[1]*(1-q) - n[0]*q
						hess += (n[0] + n[1]) * q * (1 - q)
					}
				}
				step := max(-2, min(2, g/hess))
				a += step
				if math.Abs(step) < 1e-6 {
					break
				}
			}
			fit.offsets[pat] = a
		}
	}
	return fit
}

// strict reports whether port, on channel c, started only with a precedent
// in the training windows ws (see strict).
func (h *history) strict(ws []features.Window, c int, port uint16) bool {
	var starts, unheralded int
	for _, w := range ws {
		before, states := h.lagStates(w, c, port)
		if before || slices.Contains(states[:], portae.NoRound) || !h.has(w.Last(), c, port) {
			continue
		}
		starts++
		if !slices.Contains(states[:], portae.Present) {
			unheralded++
		}
	}
	return starts >= strictStarts && float64(unheralded) <= strictShare*float64(starts)
}

// lookBack adds to m's history the normal rounds stored an hour and a day
// before the rounds of ws, which a lag model looks up: a cron run starts
// with none.
func (d *Detector) lookBack(ctx context.Context, db *store.DB, m *model, ws []features.Window) error {
	if m.lags == nil || len(ws) == 0 {
		return nil
	}
	first, last := ws[0].Last().Start, ws[len(ws)-1].Last().Start
	for _, lag := range lagTimes {
		q := store.RoundQuery{Scanned: true, Normal: true,
			Since: first.Add(-lag - lagSlack), Until: last.Add(-lag + lagSlack + time.Microsecond)}
		rounds, err := db.Rounds(ctx, q)
		if err != nil {
			return err
		}
		for i := range rounds {
			m.hist.remember(&rounds[i])
		}
	}
	return nil
}

func logit(p float64) float64 { return math.Log(p / (1 - p)) }

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
