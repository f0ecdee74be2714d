package nn

import (
	"fmt"
	"math"
	"slices"
)

// windowAttrs are the sliding-window attributes Conv and MaxPool share.
type windowAttrs struct {
	autoPad   string
	kernel    []int64 // nil: Conv takes it from W
	strides   []int64
	dilations []int64
	pads      []int64
	ceil      bool
}

// parseWindowAttrs reads the shared window attributes; ceil_mode is read by
// the caller because only MaxPool has it.
func parseWindowAttrs(op string, a Attrs) (windowAttrs, error) {
	var w windowAttrs
	var err error
	if w.autoPad, err = a.String("auto_pad", "NOTSET"); err != nil {
		return w, fmt.Errorf("%s: %w", op, err)
	}
	switch w.autoPad {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return w, &UnsupportedError{Op: op, Reason: fmt.Sprintf("auto_pad %q", w.autoPad)}
	}
	for _, f := range []struct {
		name string
		dst  *[]int64
	}{{"kernel_shape", &w.kernel}, {"strides", &w.strides}, {"dilations", &w.dilations}, {"pads", &w.pads}} {
		if *f.dst, err = a.Ints(f.name, nil); err != nil {
			return w, fmt.Errorf("%s: %w", op, err)
		}
	}
	return w, nil
}

// window is the geometry of one sliding window over the spatial dimensions
// of an input: which input element each kernel tap of each output reads.
type window struct {
	out    []int // spatial output shape
	nOut   int   // output positions per channel
	nTaps  int   // kernel taps per channel
	inSize int   // input positions per channel
	// tap[t*nOut+q] is the flat spatial input index read by kernel tap t
	// (row-major over the kernel) at output position q, or -1 in padding.
	// Tap-major so that the inner loops run over output positions.
	tap []int32
}

// geometry checks the attributes against the spatial input shape in and the
// kernel shape k and builds the window. Output sizes follow the ONNX spec:
// floor (ceil with ceil_mode) of (in + pads - dilated kernel)/stride + 1, or
// ceil(in/stride) for SAME_* padding.
func (a windowAttrs) geometry(op string, in, k []int) (*window, error) {
	n := len(in)
	if len(k) != n {
		return nil, fmt.Errorf("%s: kernel has %d dimensions, input %d spatial", op, len(k), n)
	}
	if a.kernel != nil && !slices.Equal(toInts(a.kernel), k) {
		return nil, fmt.Errorf("%s: kernel_shape %v does not match weights %v", op, a.kernel, k)
	}
	get := func(name string, v []int64, length int, def int64) ([]int, error) {
		if v == nil {
			v = slices.Repeat([]int64{def}, length)
		}
		if len(v) != length {
			return nil, fmt.Errorf("%s: %s has %d values, want %d", op, name, len(v), length)
		}
		return toInts(v), nil
	}
	strides, err := get("strides", a.strides, n, 1)
	if err != nil {
		return nil, err
	}
	dil, err := get("dilations", a.dilations, n, 1)
	if err != nil {
		return nil, err
	}
	pads, err := get("pads", a.pads, 2*n, 0)
	if err != nil {
		return nil, err
	}
	w := &window{out: make([]int, n), nOut: 1, nTaps: 1, inSize: 1}
	begin := make([]int, n)
	for d := range n {
		if k[d] < 1 || strides[d] < 1 || dil[d] < 1 || pads[d] < 0 || pads[d+n] < 0 || in[d] < 1 {
			return nil, fmt.Errorf("%s: bad geometry along axis %d: input %d, kernel %d, stride %d, dilation %d, pads %d,%d",
				op, d, in[d], k[d], strides[d], dil[d], pads[d], pads[d+n])
		}
		ext := (k[d]-1)*dil[d] + 1
		switch a.autoPad {
		case "NOTSET":
			span := in[d] + pads[d] + pads[d+n] - ext
			if span < 0 {
				return nil, fmt.Errorf("%s: kernel extent %d exceeds padded input %d along axis %d", op, ext, in[d]+pads[d]+pads[d+n], d)
			}
			w.out[d] = span/strides[d] + 1
			if a.ceil {
				w.out[d] = (span+strides[d]-1)/strides[d] + 1
				// The last window must start inside the input or the
				// left padding, as in the reference implementation.
				if (w.out[d]-1)*strides[d] >= in[d]+pads[d] {
					w.out[d]--
				}
			}
			begin[d] = pads[d]
		case "VALID":
			if in[d] < ext {
				return nil, fmt.Errorf("%s: kernel extent %d exceeds input %d along axis %d", op, ext, in[d], d)
			}
			w.out[d] = (in[d]-ext)/strides[d] + 1
		default: // SAME_UPPER, SAME_LOWER
			w.out[d] = (in[d] + strides[d] - 1) / strides[d]
			total := max(0, (w.out[d]-1)*strides[d]+ext-in[d])
			begin[d] = total / 2
			if a.autoPad == "SAME_LOWER" {
				begin[d] = total - total/2
			}
		}
		w.nOut *= w.out[d]
		w.nTaps *= k[d]
		w.inSize *= in[d]
	}
	if w.nOut*w.nTaps > 1<<31-1 || w.inSize > 1<<31-1 {
		return nil, fmt.Errorf("%s: window of %d outputs by %d taps is too large", op, w.nOut, w.nTaps)
	}
	w.tap = make([]int32, w.nTaps*w.nOut)
	// Odometers over kernel taps (kt) and output positions (oq), last axis
	// fastest; the input coordinate is o*stride - pad + k*dilation.
	kt := make([]int, n)
	oq := make([]int, n)
	for t := range w.nTaps {
		clear(oq)
		for q := range w.nOut {
			idx := 0
			for d := range n {
				c := oq[d]*strides[d] - begin[d] + kt[d]*dil[d]
				if c < 0 || c >= in[d] {
					idx = -1
					break
				}
				idx = idx*in[d] + c
			}
			w.tap[t*w.nOut+q] = int32(idx)
			step(oq, w.out)
		}
		step(kt, k)
	}
	return w, nil
}

// step advances the row-major multi-index i within shape by one.
func step(i, shape []int) {
	for d := len(i) - 1; d >= 0; d-- {
		if i[d]++; i[d] < shape[d] {
			return
		}
		i[d] = 0
	}
}

func toInts(v []int64) []int {
	r := make([]int, len(v))
	for i, x := range v {
		r[i] = int(x)
	}
	return r
}

// im2col writes the unfolded input of cg channels xg into dst, row length
// ld: one row per (channel, tap), one column per output position in cols.
// Taps in padding read zero.
func (w *window) im2col(xg []float32, cg int, cols []int32, dst []float32, ld int) {
	for ch := range cg {
		xc := xg[ch*w.inSize:][:w.inSize]
		for t := range w.nTaps {
			taps := w.tap[t*w.nOut:][:w.nOut]
			row := dst[(ch*w.nTaps+t)*ld:][:len(cols)]
			for j, q := range cols {
				row[j] = 0
				if p := taps[q]; p >= 0 {
					row[j] = xc[p]
				}
			}
		}
	}
}

// col2im is the adjoint of im2col: it adds each entry of src back onto the
// input position it was read from.
func (w *window) col2im(src []float32, ld, cg int, cols []int32, dxg []float32) {
	for ch := range cg {
		dxc := dxg[ch*w.inSize:][:w.inSize]
		for t := range w.nTaps {
			taps := w.tap[t*w.nOut:][:w.nOut]
			row := src[(ch*w.nTaps+t)*ld:][:len(cols)]
			for j, q := range cols {
				if p := taps[q]; p >= 0 {
					dxc[p] += row[j]
				}
			}
		}
	}
}

// inverse lists, for each input position p, the outputs whose window reads
// it and with which tap: out[i] and tap[i] for i in at[p]..at[p+1], in
// compressed sparse row form, taps ascending.
func (w *window) inverse() (at, out, tap []int32) {
	at = make([]int32, w.inSize+1)
	for _, p := range w.tap {
		if p >= 0 {
			at[p+1]++
		}
	}
	for p := range w.inSize {
		at[p+1] += at[p]
	}
	out, tap = make([]int32, at[w.inSize]), make([]int32, at[w.inSize])
	next := slices.Clone(at[:w.inSize])
	for i, p := range w.tap {
		if p >= 0 {
			out[next[p]], tap[next[p]] = int32(i%w.nOut), int32(i/w.nOut)
			next[p]++
		}
	}
	return at, out, tap
}

// nextNonzero is the index of x's first value that is not ±0, or len(x):
// occupancy inputs are mostly zeros, and finding the few ones is what a
// sparse Conv spends its time on.
func nextNonzero(x []float32) int {
	i := zeroPrefix(x)
	return i + scanNonzero(x[i:])
}

// scanNonzero is nextNonzero in Go, eight values per branch.
func scanNonzero(x []float32) int {
	i := 0
	for ; i+8 <= len(x); i += 8 {
		b := x[i : i+8 : i+8]
		bits := math.Float32bits(b[0]) | math.Float32bits(b[1]) | math.Float32bits(b[2]) | math.Float32bits(b[3]) |
			math.Float32bits(b[4]) | math.Float32bits(b[5]) | math.Float32bits(b[6]) | math.Float32bits(b[7])
		if bits<<1 != 0 {
			break
		}
	}
	for ; i < len(x); i++ {
		if math.Float32bits(x[i])<<1 != 0 {
			return i
		}
	}
	return len(x)
}
