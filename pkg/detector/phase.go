package detector

import (
	"fmt"
	"math"
	"slices"

	"portwatch/pkg/features"
	"portwatch/pkg/modelfile"
	"portwatch/pkg/sock"
	"portwatch/pkg/store"
)

// phase is what the two phase statistics judge a round by: work that
// recurs at a minute of the hour (an hourly job's burst of connections, a
// batch job's admin port listening for two minutes) is normal at its minute
// and an anomaly at another. The autoencoder's ten-round windows carry no
// calendar, and the hour statistic's hours are too coarse for an hourly
// job, so these counts of the training rounds by hour of the day and minute
// of the hour carry the phase, and the same by day of the week a weekly
// job's. Kept in the model file (modelfile.Phase, Starts keyed by hourKey)
// and grown with each refit's normal rounds.
//
// Start is the largest surprise of a listener starting (listening, and not
// in the round before) at the round's minute of the hour, given the minutes
// it started at in training, or of a process opening client connections at
// a minute it does not open them at (the hourly job's burst at minute 23,
// however few); Load is the surprise of the round's client
// connections given the usual number at its hour of the day and minute of
// the hour (see load).
type phase modelfile.Phase

// startSpread is how many minutes on either side of a round's own count
// towards a listener's start: cron starts a job within a minute or so of
// its time, while an off-phase start (ten minutes or more away) stays
// unusual.
const startSpread = 2

// startPseudo is the weight, in starts, of the prior that a listener starts
// at any minute as often as rounds fall there: a listener seen starting a
// few times (a service restarted each night, then once more after an
// outage) has no phase to speak of, one that started at minute 26 of each
// of 70 hours has. With 3, a listener must have started at one minute
// four times or more before a start elsewhere passes the limit of a host
// whose normal starts all cost nothing (ln 2).
const startPseudo = 3

// loadSpread is how many minutes on either side of a round's own the usual
// connections at its minute are the largest of: the job at minute 0 may
// run into minute 1, and the usual at minute 1 must not be the hour's.
const loadSpread = 1

// minHourRounds is how many training rounds an hour of the day needs for
// its own usual connection count; with fewer it takes the day's.
const minHourRounds = 10

// countPhase counts the target rounds of ws, then measures their
// dispersion against the counts.
// The dispersion is measured before the rounds are counted by day of the
// week: a week's count holds one round of each, and a round measured
// against itself would make the host look steadier than it is.
func countPhase(l features.Layout, ws []features.Window) *phase {
	p := &phase{Starts: map[string][60]int{}, Openers: map[string]modelfile.Opener{}}
	p.count(l, ws)
	p.disperse(ws)
	p.Week = &modelfile.Week{}
	p.countWeek(ws)
	return p
}

// add counts the target rounds of ws, a refit's normal rounds, measuring
// their dispersion first against what the model foresaw for them. A file
// from before the week's counts starts them here.
func (p *phase) add(l features.Layout, ws []features.Window) {
	p.disperse(ws)
	if p.Week == nil {
		p.Week = &modelfile.Week{}
	}
	if p.Openers == nil {
		p.Openers = map[string]modelfile.Opener{}
	}
	p.count(l, ws)
	p.countWeek(ws)
}

// countWeek counts the target rounds of ws and their connections by day
// of the week.
func (p *phase) countWeek(ws []features.Window) {
	for _, w := range ws {
		d, h, m := weekClockOf(w.Last())
		p.Week.Rounds[d][h][m]++
		p.Week.Opened[d][h][m] += float64(opened(w))
	}
}

// count counts the target rounds of ws by hour and minute.
func (p *phase) count(l features.Layout, ws []features.Window) {
	for _, w := range ws {
		r := w.Last()
		h, m := clockOf(r)
		p.Rounds[h][m]++
		p.Opened[h][m] += float64(opened(w))
		for _, c := range starts(l, w) {
			k := hourKey(l.Channels()[c.Channel], c.Port)
			on := p.Starts[k]
			on[m]++
			p.Starts[k] = on
		}
		for name := range openedBy(w) {
			o := p.Openers[name]
			o.Minutes[m]++
			o.Hours[h]++
			p.Openers[name] = o
		}
	}
}

// pearsonClip bounds a round's squared Pearson residual in the
// dispersion: three standard deviations. A minute the counts foresee badly
// (a job's minute at an hour unlike the others) would otherwise make the
// whole day look wild.
const pearsonClip = 9

// disperse adds the Pearson residuals of ws's opened connections, of the
// rounds above the usual only, twice: what Load judges is connections past
// the usual, and the usual is the largest of the minutes around (see
// loadSpread), so the minutes beside a job's fall short of it by design.
func (p *phase) disperse(ws []features.Window) {
	for _, w := range ws {
		u := p.usual(w)
		if u.Mu <= 0 {
			continue
		}
		if u.N > u.Mu {
			p.Pearson += 2 * min((u.N-u.Mu)*(u.N-u.Mu)/u.Mu, pearsonClip)
		}
		p.Dispersed++
	}
}

// dispersion is the quasi-Poisson dispersion of the host's opened
// connections, at least 1: a host whose load differs from day to day (a
// busier Monday than the training's Saturday) wanders more than a Poisson
// count of a fixed mean, and its deviances are scaled down by as much.
func (p *phase) dispersion() float64 {
	if p.Dispersed == 0 {
		return 1
	}
	return max(1, p.Pearson/float64(p.Dispersed))
}

// phaseCell is a listener starting, or a process opening client
// connections, at a minute of the hour it seldom does.
type phaseCell struct {
	Channel int
	Port    uint16
	Lift    float64 // how much likelier a start is at this minute than at any, smoothed; below 1
	// Process is set for a process opening connections (Channel and Port
	// are then unset): its name, the connections it opened, and the minute
	// of the hour it opens them at most.
	Process string
	Opened  int
	Usual   int
}

// start returns the largest surprise, -ln(lift), over the listeners
// starting in w's last round and the processes opening client connections
// in it that training saw do so, and that cell. Lift is how much likelier
// a start is near the round's minute than at a minute drawn as the
// training rounds fall: a listener that starts at any minute, or a client
// that connects all the time, has a lift near 1 wherever it starts.
func (p *phase) start(l features.Layout, w features.Window) (float64, *phaseCell) {
	_, m := clockOf(w.Last())
	var minutes [60]int
	for h := range p.Rounds {
		for i, n := range p.Rounds[h] {
			minutes[i] += n
		}
	}
	near, all := around(minutes[:], m, startSpread)
	if all == 0 || near == 0 {
		return 0, nil
	}
	prior := near / all
	var worst float64
	var cell *phaseCell
	consider := func(on [60]int, c phaseCell) {
		onNear, onAll := around(on[:], m, startSpread)
		c.Lift = (onNear + startPseudo*prior) / (onAll + startPseudo) / prior
		if s := -math.Log(min(c.Lift, 1)); cell == nil || s > worst {
			worst, cell = s, &c
		}
	}
	for _, c := range starts(l, w) {
		if on, ok := p.Starts[hourKey(l.Channels()[c.Channel], c.Port)]; ok && phased(on) {
			consider(on, phaseCell{Channel: c.Channel, Port: c.Port})
		}
	}
	for name, n := range openedBy(w) {
		if o, ok := p.Openers[name]; ok && everyHour(o) && phased(o.Minutes) {
			consider(o.Minutes, phaseCell{Process: name, Opened: n, Usual: busiestMinute(o.Minutes)})
		}
	}
	return worst, cell
}

// openerHours is how many hours of the day a process must have opened
// connections in for its minutes of the hour to be a phase: an hourly job
// runs in all of them, an office-hours one in eight, while the nightly
// backup's dozen minutes at 02:00 say when in the night it ran, not at which
// minute of every hour it connects, and its running two minutes longer
// one night is no anomaly.
const openerHours = 6

// everyHour reports whether o opened connections in openerHours hours of the
// day or more.
func everyHour(o modelfile.Opener) bool {
	n := 0
	for _, c := range o.Hours {
		if c > 0 {
			n++
		}
	}
	return n >= openerHours
}

// Least evidence of a phase, for a listener's starts or a process's
// rounds opening connections: phaseRounds of them, their minutes of the
// hour phaseKL nats or more from spread evenly (the Kullback-Leibler
// divergence from uniform). A job at one minute is ln 60 ≈ 4.1 from even,
// at two ln 30, at each quarter hour ln 15 ≈ 2.7; a program that connects
// now and then (sshd's outbound checks, 86 rounds in three days) or a dev
// server started a dozen times in office hours is well under 1, and the
// minute its rounds happen to miss is chance, not its phase. Fewer than a
// dozen counts are far from even by sparsity alone (ten at ten minutes,
// ln 6 ≈ 1.8), so they are no evidence.
const (
	phaseRounds = 12
	phaseKL     = 2
)

// phased reports whether counts by minute of the hour are concentrated
// enough, on enough rounds, to be a phase.
func phased(minutes [60]int) bool {
	var n float64
	for _, c := range minutes {
		n += float64(c)
	}
	if n < phaseRounds {
		return false
	}
	var kl float64
	for _, c := range minutes {
		if c > 0 {
			q := float64(c) / n
			kl += q * math.Log(q*60)
		}
	}
	return kl >= phaseKL
}

// busiestMinute is the minute of the hour on counts most of, the first of a tie.
func busiestMinute(on [60]int) int {
	best := 0
	for m, n := range on {
		if n > on[best] {
			best = m
		}
	}
	return best
}

// finding tells a process opening connections at an unusual minute, a
// cell of start with Process set: "batch-job opened 8 client connections
// at minute 23 of the hour; it opens them at minute 0".
func (c *phaseCell) finding(m int, surprise, limit float64) Finding {
	return Finding{
		Stat: "start", Value: surprise, Limit: limit, Kind: "burst", Protocol: "tcp", Process: c.Process,
		Text: fmt.Sprintf("%s opened %d client connections at minute %d of the hour; it opens them at minute %d",
			c.Process, c.Opened, m, c.Usual),
	}
}

// usualLoad is the client connections a round opened beside the usual
// number at its hour of the day and minute of the hour.
type usualLoad struct {
	N, Mu        float64
	Dispersion   float64 // the host's (see phase.dispersion); 0 is 1
	Hour, Minute int
	w            features.Window // for the finding's process
}

// usual returns the client connections w's last round opened and their
// usual number there: its hour of the day's mean plus what its minute of
// the hour adds, the minute read two ways, the larger taken (see minute).
// A daily rhythm and an hourly job at once, learnt from a few days. Where
// the same day of the week was seen at that time, and opened more, the
// usual is raised toward it (see weekly): a weekly job.
func (p *phase) usual(w features.Window) *usualLoad {
	h, m := clockOf(w.Last())
	mean := p.hourMean(h)
	lift, extra := p.minute(m)
	mu := max(mean*lift, mean+extra)
	mu = max(mu, p.weekly(w.Last(), mu))
	return &usualLoad{N: float64(opened(w)), Mu: mu, Dispersion: p.dispersion(), Hour: h, Minute: m, w: w}
}

// weekPseudo is the weight, in rounds, of the hour-and-minute usual in the
// usual at one day of the week and time. A weekly job seen once must be
// nearly usual at its day and time: at half usual, its next run of 140
// connections against 83 still costs 16 nats, a load limit. The usual only
// rises by it, so a busy minute of one week costs a little sensitivity at
// that day and time, no false alarm.
const weekPseudo = 0.25

// weekSpread is how many minutes on either side of a round's own the usual
// at its day of the week and time is the mean of, where that minute was
// never seen on that day (the host was asleep or down). A weekly job seen
// once is one sample of how long it runs, and a run cut short by the host
// sleeping says nothing of its end: Sunday's update seen to 03:12, when the
// host slept, runs to 03:19 the next week. Minutes seen keep their own
// counts, so a busy minute does not raise its neighbours'.
const weekSpread = 15

// minutesPerWeek is the length of the week's counts' clock.
const minutesPerWeek = 7 * 24 * 60

// weekly returns the connections usual at r's day of the week and time,
// the largest within loadSpread minutes, smoothed toward mu by weekPseudo
// rounds; where none of those was seen, the mean of those seen within
// weekSpread; 0 where none was (or without the week's counts).
func (p *phase) weekly(r *store.Round, mu float64) float64 {
	if p.Week == nil {
		return 0
	}
	d, h, m := weekClockOf(r)
	at := (d*24+h)*60 + m
	var largest, rounds, opened float64
	seen := false
	for dm := -weekSpread; dm <= weekSpread; dm++ {
		t := (at + dm + minutesPerWeek) % minutesPerWeek
		d, h, m := t/(24*60), t/60%24, t%60
		n, o := float64(p.Week.Rounds[d][h][m]), p.Week.Opened[d][h][m]
		if n == 0 {
			continue
		}
		rounds, opened = rounds+n, opened+o
		if -loadSpread <= dm && dm <= loadSpread {
			largest, seen = max(largest, (o+weekPseudo*mu)/(n+weekPseudo)), true
		}
	}
	switch {
	case seen:
		return largest
	case rounds > 0:
		return (opened + weekPseudo*mu) / (rounds + weekPseudo)
	}
	return 0
}

// deviance is the Poisson deviance of N past Mu, N·ln(N/Mu) - (N - Mu),
// over the dispersion, and 0 when N <= Mu: about -ln P(X >= N) for a
// Poisson count X of mean Mu, so it grows with the evidence, where a ratio
// would call 10 connections against a usual 4 as odd as 600 against 240.
func (u *usualLoad) deviance() float64 {
	if u.N <= u.Mu || u.Mu <= 0 {
		return 0
	}
	return (u.N*math.Log(u.N/u.Mu) - (u.N - u.Mu)) / max(u.Dispersion, 1)
}

// finding tells a round past the load limit: "312 client connections
// opened at 14:37 UTC, 4.1x the 76 usual at that hour and minute, most by
// curl". The process is what a person accepts (incident key "tcp
// connections process=curl"), so accepting a weekly job's burst accepts
// neither another program's nor port exhaustion.
func (u *usualLoad) finding(limit float64) Finding {
	f := Finding{
		Stat: "load", Value: u.deviance(), Limit: limit, Kind: "burst", Protocol: "tcp", Process: topOpener(u.w),
		Text: fmt.Sprintf("%.0f client connections opened at %02d:%02d UTC, %.1fx the %.0f usual at that hour and minute",
			u.N, u.Hour, u.Minute, u.N/u.Mu, u.Mu),
	}
	if f.Process != "" {
		f.Text += ", most by " + f.Process
	}
	return f
}

// openedBy counts the client connections w's last round opened (see
// opened) by process, those of no known process left out.
func openedBy(w features.Window) map[string]int {
	counts := map[string]int{}
	if len(w.Rounds) < 2 {
		return counts
	}
	before := clientPorts(w.Rounds[len(w.Rounds)-2])
	for i := range w.Last().Sockets {
		s := &w.Last().Sockets[i]
		if s.Protocol != sock.TCP || s.State == sock.Listen || s.Process == "" {
			continue
		}
		if _, found := slices.BinarySearch(before, s.Port); found {
			continue
		}
		counts[s.Process]++
	}
	return counts
}

// topOpener is the process that opened the most of w's last round's
// client connections (see opened), the first by name of a tie; "" when
// none is known.
func topOpener(w features.Window) string {
	counts := openedBy(w)
	best := ""
	for name, n := range counts {
		if best == "" || n > counts[best] || n == counts[best] && name < best {
			best = name
		}
	}
	return best
}

// hourMean is the mean connections of the training rounds at hour h, or of
// all rounds when h has fewer than minHourRounds.
func (p *phase) hourMean(h int) float64 {
	var rounds, opened float64
	for m := range 60 {
		rounds += float64(p.Rounds[h][m])
		opened += p.Opened[h][m]
	}
	if rounds >= minHourRounds {
		return opened / rounds
	}
	rounds, opened = 0, 0
	for h := range p.Rounds {
		for m := range 60 {
			rounds += float64(p.Rounds[h][m])
			opened += p.Opened[h][m]
		}
	}
	if rounds == 0 {
		return 0
	}
	return opened / rounds
}

// minute returns what minute m of the hour adds to an hour's mean, the
// largest within loadSpread minutes, read two ways: as a factor (lift, a
// minute's connections over what its hours' means foresaw for its rounds:
// a job opening twice the host's usual rate) and as a count (extra, the
// connections past those means per round: a scrape opening ten whatever
// the hour). A job of either kind is then usual at its minute by night as
// by day. A minute training never saw adds nothing: lift 1, extra 0.
func (p *phase) minute(m int) (lift, extra float64) {
	var means [24]float64
	for h := range means {
		means[h] = p.hourMean(h)
	}
	lift = 1
	for d := -loadSpread; d <= loadSpread; d++ {
		mm := (m + d + 60) % 60
		var opened, foreseen, rounds float64
		for h := range p.Rounds {
			opened += p.Opened[h][mm]
			foreseen += float64(p.Rounds[h][mm]) * means[h]
			rounds += float64(p.Rounds[h][mm])
		}
		if rounds == 0 {
			continue
		}
		if foreseen > 0 {
			lift = max(lift, opened/foreseen)
		}
		extra = max(extra, (opened-foreseen)/rounds)
	}
	return lift, extra
}

// clockOf is r's hour of the day and minute of the hour, in UTC as the
// clock channel and the hour statistic count them.
func clockOf(r *store.Round) (hour, minute int) {
	t := r.Start.UTC()
	return t.Hour(), t.Minute()
}

// weekClockOf is r's day of the week (Sunday 0), hour and minute, in UTC.
func weekClockOf(r *store.Round) (day, hour, minute int) {
	hour, minute = clockOf(r)
	return int(r.Start.UTC().Weekday()), hour, minute
}

// opened counts the client connections w's last round opened: the local
// ports of its TCP sockets not listening that the round before had no such
// socket on. Arrivals, not the connections open: a scan sees a connection
// for as long as it lasts, so the count open follows minutes-long sessions
// and wanders far more than a count of arrivals, which a burst of new
// connections lifts at once.
func opened(w features.Window) int {
	if len(w.Rounds) < 2 {
		return 0
	}
	now, before := clientPorts(w.Last()), clientPorts(w.Rounds[len(w.Rounds)-2])
	n := 0
	for _, port := range now {
		if _, found := slices.BinarySearch(before, port); !found {
			n++
		}
	}
	return n
}

// clientPorts returns the local ports of r's TCP sockets not listening,
// ascending, once each.
func clientPorts(r *store.Round) []uint16 {
	var out []uint16
	for i := range r.Sockets {
		s := &r.Sockets[i]
		// Sockets are ordered by port, so a repeat follows its first.
		if s.Protocol == sock.TCP && s.State != sock.Listen && (len(out) == 0 || out[len(out)-1] != s.Port) {
			out = append(out, s.Port)
		}
	}
	return out
}

// startCell is a listener starting: a channel of the layout and a port.
type startCell struct {
	Channel int
	Port    uint16
}

// starts returns the listening cells of w's last round that the round
// before lacks. A window whose target follows a gap repeats the target as
// its round before (features.Window's padding), so nothing starts there: a
// host waking up starts its services at no phase.
func starts(l features.Layout, w features.Window) []startCell {
	if len(w.Rounds) < 2 {
		return nil
	}
	r, prev := w.Last(), w.Rounds[len(w.Rounds)-2]
	var out []startCell
	for c, name := range l.Channels() {
		if !features.Listening(name) {
			continue
		}
		before := l.Ports(prev, c)
		for _, port := range l.Ports(r, c) {
			if _, found := slices.BinarySearch(before, port); !found {
				out = append(out, startCell{c, port})
			}
		}
	}
	return out
}
