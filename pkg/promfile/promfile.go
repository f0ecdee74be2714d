// Package promfile writes Prometheus metrics in the text exposition format
// for node_exporter's textfile collector, atomically (written beside and
// renamed), so the collector never reads half a file.
package promfile

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"portwatch/pkg/atomicfile"
)

// Gauge is one metric family of gauges.
type Gauge struct {
	Name, Help string
	Samples    []Sample
}

// Sample is one value, with labels (name, value pairs).
type Sample struct {
	Labels []string
	Value  float64
}

// Format writes gs in the text format.
func Format(gs []Gauge) []byte {
	var b bytes.Buffer
	for _, g := range gs {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", g.Name, g.Help, g.Name)
		for _, s := range g.Samples {
			b.WriteString(g.Name)
			if len(s.Labels) > 0 {
				pairs := make([]string, 0, len(s.Labels)/2)
				for l := range slices.Chunk(s.Labels, 2) {
					pairs = append(pairs, l[0]+"="+strconv.Quote(l[1]))
				}
				b.WriteString("{" + strings.Join(pairs, ",") + "}")
			}
			b.WriteString(" " + strconv.FormatFloat(s.Value, 'g', -1, 64) + "\n")
		}
	}
	return b.Bytes()
}

// Write writes gs to path (mode 0644: the collector runs as another user).
func Write(path string, gs []Gauge) error {
	if err := atomicfile.Write(path, Format(gs), atomicfile.Options{Mode: 0o644}); err != nil {
		return fmt.Errorf("metrics %s: %w", path, err)
	}
	return nil
}
