package pcaptl

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"time"
)

// newEvent lays an event source's frames out by offset from the first.
func newEvent(src EventSource, taken []stamped) event {
	slices.SortStableFunc(taken, func(a, b stamped) int { return a.at.Compare(b.at) })
	origin := taken[0].at
	if src.Cut > 0 {
		n, _ := slices.BinarySearchFunc(taken, origin.Add(src.Cut), func(s stamped, t time.Time) int { return s.at.Compare(t) })
		taken = taken[:n]
	}
	span := taken[len(taken)-1].at.Sub(origin)
	scale := 1.0
	if span > maxSpread {
		scale = float64(squeezeTo) / float64(span)
	}
	ev := event{src: src, frames: make([]frame, len(taken))}
	for i, s := range taken {
		s.frame.at = micro(time.Duration(float64(s.at.Sub(origin)) * scale))
		ev.frames[i] = s.frame
	}
	ev.span = ev.frames[len(ev.frames)-1].at
	return ev
}

// micro truncates d to whole microseconds, what a pcap file holds.
func micro(d time.Duration) time.Duration { return d.Truncate(time.Microsecond) }

// addChunks cuts one background capture's frames, in file order, into
// source chunks and their pieces.
func (l *Library) addChunks(frames []stamped) {
	start := 0
	for i := 1; i <= len(frames); i++ {
		if i < len(frames) {
			step := frames[i].at.Sub(frames[i-1].at)
			if step <= chunkGap && step >= -chunkBack {
				continue
			}
		}
		l.addChunk(frames[start:i])
		start = i
	}
}

// addChunk cuts a chunk into pieces of under pieceSpan, each by offset
// from its first frame.
func (l *Library) addChunk(chunk []stamped) {
	slices.SortStableFunc(chunk, func(a, b stamped) int { return a.at.Compare(b.at) })
	group := len(l.groups)
	var pieces []piece
	for len(chunk) > 0 {
		origin := chunk[0].at
		n, _ := slices.BinarySearchFunc(chunk, origin.Add(pieceSpan), func(s stamped, t time.Time) int { return s.at.Compare(t) })
		p := piece{group: group, frames: make([]frame, n)}
		for i, s := range chunk[:n] {
			s.frame.at = micro(s.at.Sub(origin))
			p.frames[i] = s.frame
		}
		p.span = p.frames[n-1].at
		pieces = append(pieces, p)
		chunk = chunk[n:]
	}
	l.groups = append(l.groups, pieces)
	l.Stats.Pieces += len(pieces)
}

// deck deals background pieces: its chunks in a random order, each
// chunk's pieces in their order, shuffled anew when all are dealt.
type deck struct {
	r      *rand.Rand
	groups [][]piece
	order  []int // indices into groups
	g, p   int   // the next piece: order[g]'s p-th
}

func newDeck(r *rand.Rand, groups [][]piece) *deck {
	d := &deck{r: r, groups: groups, order: make([]int, len(groups))}
	for i := range d.order {
		d.order[i] = i
	}
	d.r.Shuffle(len(d.order), func(i, j int) { d.order[i], d.order[j] = d.order[j], d.order[i] })
	return d
}

func (d *deck) peek() *piece { return &d.groups[d.order[d.g]][d.p] }

func (d *deck) next() {
	if d.p++; d.p < len(d.groups[d.order[d.g]]) {
		return
	}
	d.p = 0
	if d.g++; d.g == len(d.order) {
		d.g = 0
		d.r.Shuffle(len(d.order), func(i, j int) { d.order[i], d.order[j] = d.order[j], d.order[i] })
	}
}

// Background pieces within a minute follow one another after a pause of
// up to maxPause; a piece that would not end before pieceSpan waits for the
// next minute.
const maxPause = 3 * time.Second

// fill lays pieces from d into one minute from offset 0 (so the minute's
// first frame opens its round exactly at the minute) and returns them at
// their offsets in the minute, with the chunks they came from.
func fill(d *deck, r *rand.Rand) ([]frame, []int) {
	var out []frame
	var groups []int
	at := time.Duration(0)
	for {
		p := d.peek()
		if len(groups) > 0 && at+p.span >= pieceSpan {
			return out, groups
		}
		for _, f := range p.frames {
			f.at += at
			out = append(out, f)
		}
		groups = append(groups, p.group)
		d.next()
		at = micro(at + p.span + time.Duration(r.Int64N(int64(maxPause))))
	}
}

// split holds a share of the chunks out of training, by r: it returns
// whether each is novel, at least one of them and never all.
func split(r *rand.Rand, n int) []bool {
	k := min(max(1, int(float64(n)*novelShare+0.5)), n-1)
	novel := make([]bool, n)
	for _, i := range r.Perm(n)[:k] {
		novel[i] = true
	}
	return novel
}

// novelShare is the share of background chunks never seen in training.
const novelShare = 0.3

func byOffset(a, b frame) int { return cmp.Compare(a.at, b.at) }
