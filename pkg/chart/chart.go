// Package chart draws anomaly scores over time as a PNG: the score of each
// round as a line, the threshold it was judged against as a dashed line, and
// the rounds judged anomalous as red crosses. The score axis is logarithmic
// because an anomaly's score is often orders of magnitude above the rest.
package chart

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Point is one scored round.
type Point struct {
	Time      time.Time
	Score     float64
	Threshold float64
	Anomalous bool
}

// ErrNoPoints reports a chart asked for with nothing to draw.
var ErrNoPoints = errors.New("no scored rounds to plot")

// floor keeps zero scores drawable on the logarithmic axis.
const floor = 1e-6

// WritePNG draws pts (in time order) as a width x height PNG into w.
func WritePNG(w io.Writer, pts []Point, title string, width, height vg.Length) error {
	if len(pts) == 0 {
		return ErrNoPoints
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "round start (UTC)"
	p.Y.Label.Text = "score"
	p.X.Tick.Marker = plot.TimeTicks{Format: "01-02\n15:04", Time: plot.UTCUnixTime}
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Left = true // bottom left: scores sit high, anomalies top right

	scores := make(plotter.XYs, len(pts))
	limits := make(plotter.XYs, len(pts))
	var marks plotter.XYs
	for i, pt := range pts {
		x := float64(pt.Time.Unix())
		scores[i] = plotter.XY{X: x, Y: math.Max(pt.Score, floor)}
		limits[i] = plotter.XY{X: x, Y: math.Max(pt.Threshold, floor)}
		if pt.Anomalous {
			marks = append(marks, scores[i])
		}
	}
	line, err := plotter.NewLine(scores)
	if err != nil {
		return fmt.Errorf("score line: %w", err)
	}
	line.Color = color.RGBA{B: 180, A: 255}
	limit, err := plotter.NewLine(limits)
	if err != nil {
		return fmt.Errorf("threshold line: %w", err)
	}
	limit.Color = color.RGBA{R: 120, G: 120, B: 120, A: 255}
	limit.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(plotter.NewGrid(), line, limit)
	p.Legend.Add("score", line)
	p.Legend.Add("threshold", limit)
	if len(marks) > 0 {
		sc, err := plotter.NewScatter(marks)
		if err != nil {
			return fmt.Errorf("anomaly marks: %w", err)
		}
		sc.Shape = draw.CrossGlyph{}
		sc.Radius = vg.Points(5)
		sc.Color = color.RGBA{R: 220, A: 255}
		p.Add(sc)
		p.Legend.Add("anomaly", sc)
	}
	wt, err := p.WriterTo(width, height, "png")
	if err != nil {
		return fmt.Errorf("render chart: %w", err)
	}
	if _, err := wt.WriteTo(w); err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	return nil
}
