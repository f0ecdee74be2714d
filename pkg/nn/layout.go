package nn

import (
	"fmt"

	"gorgonia.org/tensor"
)

// Every kernel that moves or combines elements by index (broadcasting
// arithmetic, Expand, Transpose, Slice, Concat, Gather and the gradient
// reductions) describes its operands as strided layouts over one iteration
// shape and lets a walker visit them; this file is that one iterator.

// strides returns the row-major strides of shape.
func strides(shape []int) []int {
	s := make([]int, len(shape))
	n := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = n
		n *= shape[i]
	}
	return s
}

// broadcastShape returns the multidirectional (numpy) broadcast of shapes.
func broadcastShape(shapes ...[]int) ([]int, error) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make([]int, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		for i, d := range s {
			o := &out[rank-len(s)+i]
			switch {
			case d == *o || d == 1:
			case *o == 1:
				*o = d
			default:
				return nil, fmt.Errorf("shapes %v do not broadcast", shapes)
			}
		}
	}
	return out, nil
}

// bstrides returns the strides of a contiguous tensor of shape in, read as
// the broadcast shape out: aligned to the right, 0 along broadcast axes.
func bstrides(in, out []int) []int {
	s := make([]int, len(out))
	st := strides(in)
	for i := range in {
		if in[i] != 1 {
			s[len(out)-len(in)+i] = st[i]
		}
	}
	return s
}

// walker visits an iteration shape in row-major order over several strided
// operands at once, one run along the last axis at a time.
type walker struct {
	shape   []int   // coalesced, never empty
	strides [][]int // per operand, per axis of shape
	empty   bool
}

// newWalker coalesces the layout first: size-1 axes go and neighbouring
// axes contiguous in every operand merge, so equal shapes become one long
// run, and scalar or row broadcasting gives runs with step 0 or 1: the
// kernels' tight loops.
func newWalker(shape []int, strides ...[]int) *walker {
	w := &walker{strides: make([][]int, len(strides))}
	for i, d := range shape {
		if d == 0 {
			w.empty = true
		}
		if d == 1 {
			continue
		}
		if n := len(w.shape); n > 0 && contiguous(strides, w.strides, i, d) {
			w.shape[n-1] *= d
			for k := range strides {
				w.strides[k][n-1] = strides[k][i]
			}
			continue
		}
		w.shape = append(w.shape, d)
		for k := range strides {
			w.strides[k] = append(w.strides[k], strides[k][i])
		}
	}
	if len(w.shape) == 0 {
		w.shape = []int{1}
		for k := range strides {
			w.strides[k] = []int{0}
		}
	}
	return w
}

// contiguous tells whether axis i (size d) continues the last coalesced axis
// in every operand.
func contiguous(strides, merged [][]int, i, d int) bool {
	for k := range strides {
		if merged[k][len(merged[k])-1] != strides[k][i]*d {
			return false
		}
	}
	return true
}

// run returns the length of each run and each operand's step along it.
func (w *walker) run() (n int, step []int) {
	last := len(w.shape) - 1
	step = make([]int, len(w.strides))
	for k := range step {
		step[k] = w.strides[k][last]
	}
	return w.shape[last], step
}

// rows calls f for every run with each operand's offset of the run's first
// element, starting from base. f must not keep off.
func (w *walker) rows(base []int, f func(off []int)) {
	if w.empty {
		return
	}
	off := append([]int(nil), base...)
	idx := make([]int, len(w.shape)-1)
	for {
		f(off)
		a := len(idx) - 1
		for ; a >= 0; a-- {
			idx[a]++
			for k := range off {
				off[k] += w.strides[k][a]
			}
			if idx[a] < w.shape[a] {
				break
			}
			for k := range off {
				off[k] -= w.strides[k][a] * w.shape[a]
			}
			idx[a] = 0
		}
		if a < 0 {
			return
		}
	}
}

// copyStrided copies src into dst along w (operand 0 is dst, 1 is src).
func copyStrided[T any](dst, src []T, w *walker, dOff, sOff int) {
	n, step := w.run()
	ds, ss := step[0], step[1]
	w.rows([]int{dOff, sOff}, func(off []int) {
		d, s := off[0], off[1]
		if ds == 1 && ss == 1 {
			copy(dst[d:d+n], src[s:s+n])
			return
		}
		for range n {
			dst[d] = src[s]
			d += ds
			s += ss
		}
	})
}

// moveData is copyStrided for tensors of any dtype backing supports; dst
// and src must share a dtype.
func moveData(dst, src *tensor.Dense, w *walker, dOff, sOff int) error {
	if dst.Dtype() != src.Dtype() {
		return fmt.Errorf("dtype %v into %v", src.Dtype(), dst.Dtype())
	}
	switch d := backing(dst).(type) {
	case []float32:
		copyStrided(d, src.Float32s(), w, dOff, sOff)
	case []float64:
		copyStrided(d, src.Float64s(), w, dOff, sOff)
	case []int64:
		copyStrided(d, src.Int64s(), w, dOff, sOff)
	case []int32:
		copyStrided(d, src.Int32s(), w, dOff, sOff)
	case []bool:
		copyStrided(d, src.Bools(), w, dOff, sOff)
	default:
		return fmt.Errorf("dtype %v not supported", dst.Dtype())
	}
	return nil
}

// addStrided adds src into dst along w (operand 0 is dst, 1 is src): with
// dst strides 0 on broadcast axes it reduces a gradient to an input's
// shape, with repeated offsets it scatter-adds.
func addStrided(dst, src []float32, w *walker, dOff, sOff int) {
	n, step := w.run()
	ds, ss := step[0], step[1]
	w.rows([]int{dOff, sOff}, func(off []int) {
		d, s := off[0], off[1]
		for range n {
			dst[d] += src[s]
			d += ds
			s += ss
		}
	})
}

// reduceTo sums g, of the broadcast shape out, down to shape in: the
// gradient of broadcasting in to out.
func reduceTo(g []float32, out, in []int) *tensor.Dense {
	r := make([]float32, Size(in))
	addStrided(r, g, newWalker(out, bstrides(in, out), strides(out)), 0, 0)
	return NewF32(in, r)
}

// normAxis maps an axis in [-rank, rank) to [0, rank).
func normAxis(axis int64, rank int) (int, error) {
	if axis < -int64(rank) || axis >= int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	if axis < 0 {
		axis += int64(rank)
	}
	return int(axis), nil
}

// each calls f for every element of the iteration shape with each
// operand's offset, starting from base. f must not keep off.
func (w *walker) each(base []int, f func(off []int)) {
	n, step := w.run()
	cur := make([]int, len(step))
	w.rows(base, func(off []int) {
		copy(cur, off)
		for range n {
			f(cur)
			for k := range cur {
				cur[k] += step[k]
			}
		}
	})
}
