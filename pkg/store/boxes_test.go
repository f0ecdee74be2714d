package store

import (
	"strings"
	"testing"
)

// TestBoxesKeepValues checks the cached boxes hold the value asked for:
// the same bytes again, equal text in other bytes, other text in the slot
// of earlier text, and numbers outside the cached range.
func TestBoxesKeepValues(t *testing.T) {
	var strs stringBoxes
	a := "10.0.0.1"
	b := strings.Clone(a)
	long := strings.Repeat("x", 64)
	for i, s := range []string{a, a, b, long[:8], long[1:9], long, "", a[:4]} {
		got := strs.box(s)
		if s == "" {
			if got != nil {
				t.Errorf("%d: box(%q) = %#v, want nil", i, s, got)
			}
			continue
		}
		if got != any(s) {
			t.Errorf("%d: box(%q) = %#v", i, s, got)
		}
	}
	ints := new(intBoxes)
	for _, v := range []int{0, 255, 256, 65535, 65536, 1 << 20, -1} {
		for range 2 {
			if got := ints.box(v); got != any(int64(v)) {
				t.Errorf("box(%d) = %#v, want int64(%d)", v, got, v)
			}
		}
	}
}
