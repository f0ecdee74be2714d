package detector

import (
	"math"
	"testing"

	"portwatch/pkg/features"
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

// TestExcess: a round using as many of a range's ports as the model expects
// has an Excess near 0, whatever its Total; four times as many, a large one.
// The skipped channel counts in neither.
func TestExcess(t *testing.T) {
	const ports, p = 20000, 0.01 // 200 ports expected in use
	recon := make([]float32, 2*ports)
	for i := range recon {
		recon[i] = p
	}
	round := func(n int) []float32 {
		y := make([]float32, 2*ports)
		for i := range n {
			y[i*(ports/n)] = 1
			y[ports+i] = 1 // the skipped channel: the clock, all on
		}
		return y
	}
	skip := []channelRule{{}, {skip: true}}
	// The excess of one cell has variance p(1-p)ln²(p/(1-p)), ~0.21 nats² here.
	sd := math.Sqrt(ports * p * (1 - p) * math.Pow(math.Log(p/(1-p)), 2))
	usual, _ := score(round(200), recon, ports, 0, skip)
	if math.Abs(usual.Excess) > 3*sd {
		t.Errorf("200 of 200 expected ports: Excess %.1f, want within 3 sd (%.1f) of 0", usual.Excess, sd)
	}
	if usual.Total < 1000 {
		t.Errorf("200 of 200 expected ports: Total %.1f, want the ports' full cost (~1100)", usual.Total)
	}
	burst, _ := score(round(800), recon, ports, 0, skip)
	if burst.Excess < 10*sd {
		t.Errorf("800 of 200 expected ports: Excess %.1f, want above 10 sd (%.1f)", burst.Excess, 10*sd)
	}
	noSkip, _ := score(round(200), recon, ports, 0, nil)
	if noSkip.Total <= usual.Total {
		t.Errorf("the skipped channel's cells: Total %.1f with them, %.1f without; want more with", noSkip.Total, usual.Total)
	}
}

// TestScoreFloor: a port in use that the model all but ruled out costs
// -ln(eps) on a listening channel and -ln(pooledFloor) on a client channel
// (see channelRule); an empty cell is not floored, and the clock not judged.
// Only the listener sets the peak: a client port counts in the sum alone.
func TestScoreFloor(t *testing.T) {
	l, err := features.NewLayout([]string{features.TCPListen, features.TCPConn, features.Clock})
	if err != nil {
		t.Fatal(err)
	}
	const ports = features.Ports
	recon := make([]float32, 3*ports)
	for i := range recon {
		recon[i] = 1e-9
	}
	tests := []struct {
		name       string
		cell       int
		want, peak float64
	}{
		{"listener", 8080, -math.Log(eps), -math.Log(eps)},
		{"client port", ports + 45000, -math.Log(pooledFloor), 0},
		{"clock", 2*ports + 61440, 0, 0},
	}
	rules := rulesFor(l)
	empty, _ := score(make([]float32, 3*ports), recon, ports, 0, rules)
	for _, tt := range tests {
		target := make([]float32, 3*ports)
		target[tt.cell] = 1
		st, _ := score(target, recon, ports, 0, rules)
		if got := st.Total - empty.Total; math.Abs(got-tt.want) > 1e-6 {
			t.Errorf("%s: costs %.4f nats, want %.4f", tt.name, got, tt.want)
		}
		// An empty listening cell costs about eps, so the peak is that at least.
		if math.Abs(st.Peak-tt.peak) > 1e-5 {
			t.Errorf("%s: peak %.4f nats, want %.4f", tt.name, st.Peak, tt.peak)
		}
	}
	// Each judged empty cell costs what eps bounds it to, not the floor.
	if got, want := empty.Total, 2*ports*eps; math.Abs(got-want) > 1e-3 {
		t.Errorf("an empty round: Total %g, want %g (empty cells not floored)", got, want)
	}
}
