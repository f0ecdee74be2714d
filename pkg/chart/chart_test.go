package chart

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"testing"
	"time"

	"gonum.org/v1/plot/vg"
)

// countRed counts strongly red pixels: the anomaly marks and nothing else.
func countRed(img image.Image) int {
	var n int
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r > 0xc000 && g < 0x4000 && bl < 0x4000 {
				n++
			}
		}
	}
	return n
}

func TestWritePNG(t *testing.T) {
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	points := func(anomalies int) []Point {
		pts := make([]Point, 60)
		for i := range pts {
			pts[i] = Point{Time: start.Add(time.Duration(i) * time.Minute), Score: 10 + float64(i%7), Threshold: 40}
		}
		for i := range anomalies {
			pts[50+i].Score, pts[50+i].Anomalous = 900, true
		}
		return pts
	}
	tests := []struct {
		name    string
		pts     []Point
		wantRed bool
	}{
		{"quiet", points(0), false},
		{"anomalies", points(3), true},
		{"zero scores", []Point{{Time: start}, {Time: start.Add(time.Minute), Threshold: 1}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WritePNG(&buf, tt.pts, "test", 6*vg.Inch, 3*vg.Inch); err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(&buf)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got, want := img.Bounds().Dx(), 6*96; got < want/2 {
				t.Errorf("width: got %d px, want about %d", got, want)
			}
			if got := countRed(img) > 0; got != tt.wantRed {
				t.Errorf("red anomaly marks drawn: got %v, want %v", got, tt.wantRed)
			}
		})
	}
}

func TestWritePNGEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := WritePNG(&buf, nil, "empty", vg.Inch, vg.Inch); !errors.Is(err, ErrNoPoints) {
		t.Errorf("error: got %v, want %v", err, ErrNoPoints)
	}
}
