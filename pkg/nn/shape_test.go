package nn

import "testing"

func TestShape(t *testing.T) {
	x := randF32(1, 0, 1, 2, 3, 4, 5)
	for _, c := range []struct {
		opset int
		attrs Attrs
		want  []int64
	}{
		{13, nil, []int64{2, 3, 4, 5}},
		{15, Attrs{"start": int64(1)}, []int64{3, 4, 5}},
		{15, Attrs{"end": int64(-1)}, []int64{2, 3, 4}},
		{15, Attrs{"start": int64(-3), "end": int64(3)}, []int64{3, 4}},
		{15, Attrs{"start": int64(-10), "end": int64(10)}, []int64{2, 3, 4, 5}},
		{15, Attrs{"start": int64(3), "end": int64(1)}, []int64{}},
	} {
		out := run1(t, "Shape", c.opset, c.attrs, x)
		wantTensor(t, out[0], []int{len(c.want)}, c.want)
	}
	wantTensor(t, run1(t, "Shape", 13, nil, f32(nil, 1))[0], []int{0}, []int64{})
	_, err := New("Shape", 13, Attrs{"start": int64(1)})
	wantUnsupported(t, err)
}
