package nn

import "testing"

func TestOverlap(t *testing.T) {
	buf := make([]float32, 10)
	other := make([]float32, 10)
	for _, c := range []struct {
		name string
		x, y []float32
		want bool
	}{
		{"same", buf, buf, true},
		{"view", buf, buf[2:5], true},
		{"last element", buf, buf[9:], true},
		{"adjacent", buf[:5], buf[5:], false},
		{"other buffer", buf, other, false},
		{"empty", buf[:0], buf, false},
	} {
		if got := Overlap(c.x, c.y); got != c.want {
			t.Errorf("%s: Overlap = %v, want %v", c.name, got, c.want)
		}
		if got := Overlap(c.y, c.x); got != c.want {
			t.Errorf("%s reversed: Overlap = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestBuffers: a buffer given back is handed out again zeroed, in the same
// run or the next, never twice at once, and only buffers the pool issued
// are taken back.
func TestBuffers(t *testing.T) {
	b := NewBuffers()
	p := &Pass{Buffers: b}
	x := p.Floats(8)
	x[0] = 1
	if !b.Issued(x) || b.Issued(x[1:]) || b.Issued(make([]float32, 8)) {
		t.Fatal("Issued: want only the whole buffer handed out")
	}
	b.Put(x)
	b.Put(x) // twice: the second is not taken
	y, z := p.Floats(8), p.Floats(8)
	if &y[0] != &x[0] || &z[0] == &x[0] {
		t.Error("want the given-back buffer once, then a new one")
	}
	if y[0] != 0 {
		t.Error("a recycled buffer is not zeroed")
	}
	b.Put(make([]float32, 8)) // not issued: ignored
	b.Put(y)
	b.EndRun()
	if w := p.Floats(8); &w[0] != &y[0] {
		t.Error("the next run does not get the buffer this one gave back")
	}
	b.EndRun()
	if w := p.Floats(8); &w[0] == &y[0] {
		t.Error("a buffer taken and not given back is handed out again")
	}
	if (*Pass)(nil).Floats(3) == nil || len((&Pass{}).Floats(3)) != 3 {
		t.Error("without a pool Floats must allocate")
	}
}
