package threshold

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

// exceedance returns the fraction of n fresh draws above z.
func exceedance(draw func() float64, n int, z float64) float64 {
	var k int
	for range n {
		if draw() > z {
			k++
		}
	}
	return float64(k) / float64(n)
}

func TestCalibrateFalseAlarmRate(t *testing.T) {
	tests := []struct {
		name string
		draw func(r *rand.Rand) float64
	}{
		{"exponential", func(r *rand.Rand) float64 { return r.ExpFloat64() }},
		// Pareto with tail index 3: γ = 1/3, a heavy tail the max-of-batch rule under-estimates.
		{"pareto", func(r *rand.Rand) float64 { return math.Pow(1-r.Float64(), -1.0/3) }},
		{"uniform", func(r *rand.Rand) float64 { return r.Float64() }},
	}
	const q = 1e-3
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			draw := func() float64 { return tt.draw(r) }
			train := make([]float64, 20000)
			for i := range train {
				train[i] = draw()
			}
			sp, err := Calibrate(train, q)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := sp.Method, MethodPOT; got != want {
				t.Fatalf("method: got %s, want %s", got, want)
			}
			// 400,000 fresh draws: 400 expected exceedances, sampling error ~5%;
			// the tail fit on ~400 peaks adds more, so accept a factor 1.6.
			got := exceedance(draw, 400000, sp.Threshold)
			if got < q/1.6 || got > q*1.6 {
				t.Errorf("exceedance rate at z=%g (γ=%g σ=%g): got %g, want %g within a factor 1.6", sp.Threshold, sp.Gamma, sp.Sigma, got, q)
			}
		})
	}
}

func TestCalibrateDegenerate(t *testing.T) {
	many := make([]float64, 500)
	for i := range many {
		many[i] = 2.5
	}
	tests := []struct {
		name       string
		scores     []float64
		want       float64
		wantMethod string
	}{
		{"one", []float64{3}, 3, MethodQuantile},
		{"tiny", []float64{1, 5, 2}, 5, MethodQuantile},
		{"all equal", many, 2.5, MethodQuantile},
		{"all zero", make([]float64, 100), 0, MethodQuantile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp, err := Calibrate(tt.scores, 1e-4)
			if err != nil {
				t.Fatal(err)
			}
			if got := sp.Threshold; got != tt.want {
				t.Errorf("threshold: got %g, want %g", got, tt.want)
			}
			if got := sp.Method; got != tt.wantMethod {
				t.Errorf("method: got %s, want %s", got, tt.wantMethod)
			}
		})
	}
}

// Peaks with no mean (a Pareto tail of index 1/2, γ = 2) are not
// extrapolated: the limit is the largest score, not 1e40.
func TestCalibrateHeavyTail(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	scores := make([]float64, 2000)
	top := 0.0
	for i := range scores {
		u := 1 - r.Float64()
		scores[i] = 1 / (u * u)
		top = max(top, scores[i])
	}
	sp, err := Calibrate(scores, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	if sp.Method != MethodQuantile || sp.Threshold != top {
		t.Errorf("threshold %g (%s, gamma %.2f), want the largest score %g (quantile)", sp.Threshold, sp.Method, sp.Gamma, top)
	}
}

func TestCalibrateErrors(t *testing.T) {
	tests := []struct {
		name   string
		scores []float64
		q      float64
	}{
		{"empty", nil, 1e-4},
		{"nan", []float64{1, math.NaN()}, 1e-4},
		{"inf", []float64{math.Inf(1)}, 1e-4},
		{"q zero", []float64{1}, 0},
		{"q one", []float64{1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Calibrate(tt.scores, tt.q); err == nil {
				t.Errorf("Calibrate(%v, %g): got nil error, want one", tt.scores, tt.q)
			}
		})
	}
}

// Calibrating on half the data and updating with the other half lands near
// calibrating on all of it, and the state survives JSON between the two.
func TestUpdateMatchesCalibrate(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	data := make([]float64, 20000)
	for i := range data {
		data[i] = r.ExpFloat64()
	}
	const q = 1e-3
	all, err := Calibrate(data, q)
	if err != nil {
		t.Fatal(err)
	}
	half, err := Calibrate(data[:10000], q)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(half)
	if err != nil {
		t.Fatal(err)
	}
	var back SPOT
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Update(data[10000:]); err != nil {
		t.Fatal(err)
	}
	if got, want := back.N, 20000; got != want {
		t.Errorf("n: got %d, want %d", got, want)
	}
	if got, want := back.Threshold, all.Threshold; math.Abs(got-want) > 0.1*want {
		t.Errorf("threshold after update: got %g, want %g within 10%%", got, want)
	}
}

// A small calibration keeps its samples and switches to a fit once updates
// bring it to MinSamples.
func TestUpdateFromSmallSample(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	draw := func(n int) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = r.ExpFloat64()
		}
		return s
	}
	sp, err := Calibrate(draw(20), 1e-4)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sp.Method, MethodQuantile; got != want {
		t.Fatalf("method with 20 samples: got %s, want %s", got, want)
	}
	if err := sp.Update(draw(480)); err != nil {
		t.Fatal(err)
	}
	if got, want := sp.Method, MethodPOT; got != want {
		t.Errorf("method with 500 samples: got %s, want %s", got, want)
	}
	if got, want := sp.N, 500; got != want {
		t.Errorf("n: got %d, want %d", got, want)
	}
	if sp.Sorted != nil {
		t.Errorf("sorted samples kept after the switch to a fit: %d", len(sp.Sorted))
	}
}

// A bounded statistic never gets a tail fit: its threshold is the largest
// score seen, before and after updates, and never beyond the ceiling.
func TestBounded(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	draw := func(n int) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = []float64{4.3, 8.0, 8.0, 11.5}[r.IntN(4)] // atoms below a ceiling of 13.8
		}
		return s
	}
	sp, err := CalibrateBounded(draw(60), 5e-5)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sp.Threshold, 11.5; got != want || sp.Method != MethodQuantile {
		t.Errorf("threshold: got %g by %s, want %g by %s", got, sp.Method, want, MethodQuantile)
	}
	if err := sp.Update(draw(200)); err != nil {
		t.Fatal(err)
	}
	if got, want := sp.Threshold, 11.5; got != want || !sp.Bounded {
		t.Errorf("threshold after update: got %g (bounded %v), want %g", got, sp.Bounded, want)
	}
}
