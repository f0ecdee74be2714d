package promfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestWriteParses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portwatch.prom")
	gs := []Gauge{
		{Name: "portwatch_last_score", Help: "the newest round's score", Samples: []Sample{{Value: 0.25}}},
		{Name: "portwatch_open_incidents", Help: "open incidents by kind", Samples: []Sample{
			{Labels: []string{"kind", "new_listener"}, Value: 2}, {Labels: []string{"kind", `odd"kind`}, Value: 1}}},
	}
	if err := Write(path, gs); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	if got := fams["portwatch_last_score"].GetMetric()[0].GetGauge().GetValue(); got != 0.25 {
		t.Errorf("last score = %g, want 0.25", got)
	}
	var got []string
	for _, m := range fams["portwatch_open_incidents"].GetMetric() {
		got = append(got, m.GetLabel()[0].GetValue())
	}
	if strings.Join(got, "|") != `new_listener|odd"kind` {
		t.Errorf("kinds = %q", got)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, %v; want 0644", st.Mode(), err)
	}
}
