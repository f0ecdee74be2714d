package nn

import "unsafe"

// Buffers recycles the float32 buffers of a model's intermediate values from
// one inference run to the next. A fresh page costs about 2 µs to fault in on
// this project's VMs, more than the arithmetic done on it, and a portae run
// writes a hundred megabytes of intermediates; reusing them also keeps the
// garbage, and so the GC's heap goal and the peak RSS, down. Not safe for
// concurrent use: one run at a time, as for the model that owns it.
type Buffers struct {
	spare  map[int][][]float32 // left by the previous run, free to take
	freed  map[int][][]float32 // given back during this run
	issued map[*float32]int    // buffers handed out this run: first element -> length
}

// NewBuffers returns an empty pool.
func NewBuffers() *Buffers {
	return &Buffers{spare: map[int][][]float32{}, freed: map[int][][]float32{}, issued: map[*float32]int{}}
}

// take returns a zeroed buffer of n values, a recycled one when there is one.
func (b *Buffers) take(n int) []float32 {
	var buf []float32
	for _, list := range []map[int][][]float32{b.spare, b.freed} {
		if l := list[n]; len(l) > 0 {
			buf, list[n] = l[len(l)-1], l[:len(l)-1]
			clear(buf)
			break
		}
	}
	if buf == nil {
		buf = make([]float32, n)
	}
	if n > 0 {
		b.issued[&buf[0]] = n
	}
	return buf
}

// Issued reports whether x is a whole buffer the pool handed out this run:
// a value the run computed, not an input, a weight or a constant. A nil pool
// issued nothing.
func (b *Buffers) Issued(x []float32) bool {
	return b != nil && len(x) > 0 && b.issued[&x[0]] == len(x)
}

// Put gives back a buffer handed out this run that nothing reads any more.
func (b *Buffers) Put(x []float32) {
	if !b.Issued(x) {
		return
	}
	delete(b.issued, &x[0])
	b.freed[len(x)] = append(b.freed[len(x)], x)
}

// EndRun closes a run: what it gave back is what the next run may take;
// what the previous run left and this one did not take is dropped, so the
// pool holds at most one run's intermediates.
func (b *Buffers) EndRun() {
	b.spare, b.freed = b.freed, map[int][][]float32{}
	clear(b.issued)
}

// Overlap reports whether two float32 slices share memory: a view (Reshape,
// Squeeze, an aliasing output) of a buffer must keep it from being reused.
func Overlap(x, y []float32) bool {
	if len(x) == 0 || len(y) == 0 {
		return false
	}
	const size = unsafe.Sizeof(float32(0))
	x0, y0 := uintptr(unsafe.Pointer(&x[0])), uintptr(unsafe.Pointer(&y[0]))
	return x0 < y0+uintptr(len(y))*size && y0 < x0+uintptr(len(x))*size
}
