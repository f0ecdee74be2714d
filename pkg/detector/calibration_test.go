package detector

import (
	"math"
	"testing"

	"portwatch/pkg/threshold"
)

// TestPeakLimit: the peak limit is the largest normal peak plus peakMargin,
// raised to PeakFloor (a port seen once in training), and never past
// peakMargin under -ln eps, so a port never seen stays an anomaly.
func TestPeakLimit(t *testing.T) {
	never := -math.Log(eps) - peakMargin
	for _, tt := range []struct {
		name             string
		threshold, floor float64
		want             float64
	}{
		{"no floor (a file from before it)", 5, 0, 5 + peakMargin},
		{"floor above the largest normal", 5, 9, 9},
		{"largest normal above the floor", 9, 6, 9 + peakMargin},
		{"floor past -ln eps", 5, 20, never},
		{"largest normal past -ln eps", 20, 0, never},
	} {
		c := &calibration{Peak: &threshold.SPOT{Threshold: tt.threshold}, PeakFloor: tt.floor}
		if got := c.peakLimit(); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%s: got %.4f, want %.4f", tt.name, got, tt.want)
		}
	}
}
