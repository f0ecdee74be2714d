package detector

import (
	"fmt"
	"math"

	"portwatch/pkg/features"
	"portwatch/pkg/modelfile"
	"portwatch/pkg/store"
)

// hours is what the hour statistic judges a listener by: for each
// listening (channel, port) seen in training, the rounds of each hour of the
// day (UTC, as the clock channel counts them) it was in use, and the rounds
// of each hour. The autoencoder sees ten rounds at a time and nothing of the
// calendar, so to it a backup daemon listening at 14:00 is the same port it
// saw at 02:00; these counts are where "usual port, unusual time" shows.
// Kept in the model file (modelfile.Hours, On keyed by hourKey) and grown
// with each refit's normal rounds.
type hours modelfile.Hours

// hourSpread is how many hours on either side of a round's own count
// towards it: a dev server that started at 08:40 one day is not unusual at
// 08:20 the next, while a service whose hours are three or more away from
// any seen stays unusual.
const hourSpread = 1

// hourPseudo is the weight, in rounds, of a port's all-day rate in its rate
// at one hour: an hour with few rounds (the host often asleep) says little,
// and leans on the port's rate over the day.
const hourPseudo = 1

func hourKey(channel string, port uint16) string { return fmt.Sprintf("%s/%d", channel, port) }

// countHours counts the listening cells of the windows' target rounds.
func countHours(l features.Layout, ws []features.Window) *hours {
	h := &hours{On: map[string][24]int{}}
	h.add(l, ws)
	return h
}

// add counts the target rounds of ws.
func (h *hours) add(l features.Layout, ws []features.Window) {
	names := l.Channels()
	for _, w := range ws {
		r := w.Last()
		hr, _ := clockOf(r)
		h.Rounds[hr]++
		for c, name := range names {
			if !features.Listening(name) {
				continue
			}
			for _, p := range l.Ports(r, c) {
				k := hourKey(name, p)
				on := h.On[k]
				on[hr]++
				h.On[k] = on
			}
		}
	}
}

// hourCell is the listening cell of a round least expected at its hour.
type hourCell struct {
	Channel int
	Port    uint16
	Rate    float64 // how often the port listens at that hour, smoothed
}

// surprise returns the largest -ln(rate) over r's listening cells that
// training saw listening at some hour, and that cell. A port never seen
// listening is the peak statistic's (it costs -ln(eps) there) and is
// skipped; so are the ports a round lacks: a service absent is not unusual
// for the hour, and the autoencoder judges a vanished one.
func (h *hours) surprise(l features.Layout, r *store.Round) (float64, *hourCell) {
	hr, _ := clockOf(r)
	near, all := around(h.Rounds[:], hr, hourSpread)
	var worst float64
	var cell *hourCell
	for c, name := range l.Channels() {
		if !features.Listening(name) {
			continue
		}
		for _, p := range l.Ports(r, c) {
			on, ok := h.On[hourKey(name, p)]
			if !ok {
				continue
			}
			onNear, onAll := around(on[:], hr, hourSpread)
			rate := (onNear + hourPseudo*onAll/max(all, 1)) / (near + hourPseudo)
			if s := -math.Log(min(max(rate, eps), 1)); cell == nil || s > worst {
				worst, cell = s, &hourCell{Channel: c, Port: p, Rate: rate}
			}
		}
	}
	return worst, cell
}

// around returns the sum of a cycle's counts (the hours of a day, the
// minutes of an hour) within spread of at, around the cycle's end, and the
// sum of all.
func around(counts []int, at, spread int) (near, all float64) {
	for i, n := range counts {
		all += float64(n)
		if cyclicDistance(i, at, len(counts)) <= spread {
			near += float64(n)
		}
	}
	return near, all
}

// cyclicDistance is the distance between a and b on a cycle of n.
func cyclicDistance(a, b, n int) int {
	d := ((a-b)%n + n) % n
	return min(d, n-d)
}
