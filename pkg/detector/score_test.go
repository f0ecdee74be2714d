package detector

import (
	"math"
	"testing"
)

func TestScore(t *testing.T) {
	const ports = 4
	tests := []struct {
		name          string
		target, recon []float32
		k             int
		want          float64
		wantTop       []Cell
	}{
		{
			name:   "perfect",
			target: []float32{1, 0, 0, 0},
			recon:  []float32{1, 0, 0, 0},
			k:      1,
			want:   4 * eps, // clamped: -ln(1-eps) on the hit, about eps per empty cell
		},
		{
			name:   "new port",
			target: []float32{0, 0, 1, 0, 0, 0, 0, 0},
			recon:  []float32{0, 0, 0.001, 0, 0, 0, 0, 0},
			k:      1,
			want:   -math.Log(0.001),
			wantTop: []Cell{{Channel: 0, Port: 2, Observed: 1, Expected: 0.001,
				Error: -math.Log(0.001)}},
		},
		{
			name:   "vanished port on channel 1",
			target: []float32{0, 0, 0, 0, 0, 0, 0, 0},
			recon:  []float32{0, 0, 0, 0, 0, 0.9, 0, 0.5},
			k:      2,
			want:   -math.Log(0.1) - math.Log(0.5),
			wantTop: []Cell{
				{Channel: 1, Port: 1, Observed: 0, Expected: 0.9, Error: -math.Log(0.1)},
				{Channel: 1, Port: 3, Observed: 0, Expected: 0.5, Error: -math.Log(0.5)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, top := score(tt.target, tt.recon, ports, tt.k, nil)
			if got := st.Total; math.Abs(got-tt.want) > 1e-4 {
				t.Errorf("total: got %g, want %g", got, tt.want)
			}
			if len(top) > 0 && st.Peak != top[0].Error {
				t.Errorf("peak: got %g, want the top cell's %g", st.Peak, top[0].Error)
			}
			if tt.wantTop == nil {
				return
			}
			if len(top) != len(tt.wantTop) {
				t.Fatalf("top cells: got %d, want %d: %+v", len(top), len(tt.wantTop), top)
			}
			for i, c := range top {
				w := tt.wantTop[i]
				if c.Channel != w.Channel || c.Port != w.Port || math.Abs(c.Error-w.Error) > 1e-4 {
					t.Errorf("top[%d]: got %+v, want %+v", i, c, w)
				}
			}
		})
	}
}

// One unusual port among many empty ones moves the score by the same amount
// however wide the round is: the score is a sum, not a mean.
func TestScoreOnePortMatters(t *testing.T) {
	for _, width := range []int{16, 196608} {
		target := make([]float32, width)
		recon := make([]float32, width)
		base, _ := score(target, recon, width, 0, nil)
		target[7] = 1
		recon[7] = 0.001
		got, _ := score(target, recon, width, 0, nil)
		if d := got.Total - base.Total; math.Abs(d-(-math.Log(0.001))) > 1e-3 {
			t.Errorf("width %d: one new port adds %g, want %g", width, d, -math.Log(0.001))
		}
	}
}
