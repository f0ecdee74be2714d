package detector

import (
	"fmt"
	"path/filepath"
	"time"

	"portwatch/pkg/engine"
	"portwatch/pkg/features"
	"portwatch/pkg/modelfile"
	"portwatch/pkg/store"
)

// model is a model file as the detector uses it: the file, and its metadata
// in the detector's own types (whose methods score and count).
type model struct {
	file          *modelfile.File
	eng           *engine.Model
	layout        features.Layout
	window        int
	cal           *calibration // nil until calibrated
	hours         *hours       // nil until trained, or in files from before the hour statistic
	phase         *phase       // nil until trained, or in files from before the phase statistics
	roundsTrained int
	trainedUntil  time.Time
	trainer       *engine.Trainer // set by startTraining
	table         *table          // set for an ablation: predictions instead of the engine's
	lr            float64         // the trainer's step size
	// hist holds the normal rounds the lags are looked up in; lags the
	// cells a v2 model's lag term shifts (nil for v1 and until the first
	// training; its offsets are the engine's).
	hist *history
	lags *lagFit
}

// loadModel reads and checks the model file at path for micro-batches of
// batch windows. A missing file is an error wrapping fs.ErrNotExist;
// anything else wrong is a *modelfile.Error.
func loadModel(path string, batch int) (*model, error) {
	f, err := modelfile.Load(path, batch)
	if err != nil {
		return nil, err
	}
	return fromFile(f), nil
}

// newModel builds an untrained portae v1; nil channels take
// modelfile.DefaultChannels() and a zero window portae's default.
func newModel(channels []string, window, batch int, seed uint64) (*model, error) {
	f, err := modelfile.New(modelfile.Config{Channels: channels, Window: window, Seed: seed, Batch: batch})
	if err != nil {
		return nil, err
	}
	return fromFile(f), nil
}

func fromFile(f *modelfile.File) *model {
	var lags *lagFit
	if f.Lags != nil {
		lags = &lagFit{}
		for k, ports := range lagPorts(f.Lags) {
			lags.cells[k] = make([][]uint16, f.Layout.C())
			for c, name := range f.Layout.Channels() {
				lags.cells[k][c] = (*ports)[name]
			}
		}
	}
	return &model{
		hist:          newHistory(f.Layout),
		lags:          lags,
		file:          f,
		eng:           f.Engine,
		layout:        f.Layout,
		window:        f.Window,
		cal:           (*calibration)(f.Calibration),
		hours:         (*hours)(f.Hours),
		phase:         (*phase)(f.Phase),
		roundsTrained: f.Trained.Rounds,
		trainedUntil:  f.Trained.Until,
	}
}

// query returns the kind of round m scores, read with what it needs: an
// occupancy model the scanned rounds, a model of traffic alone (its
// channels all traffic channels) the rounds with a traffic summary. Every
// round is read with its summary, if it has one, for the traffic
// statistics.
func (m *model) query() store.RoundQuery {
	occ := m.layout.Occupancy()
	return store.RoundQuery{Scanned: occ, Captured: !occ, Traffic: true}
}

// describe identifies the model file at path in anomalies.model.
func (m *model) describe(path string) string {
	return fmt.Sprintf("%s %s (%d rounds trained)", filepath.Base(path), m.file.Version(), m.roundsTrained)
}

// save writes the model to path atomically, keeping the old file as .prev.
func (m *model) save(path string) error {
	f := m.file
	f.Calibration = (*modelfile.Calibration)(m.cal)
	f.Hours = (*modelfile.Hours)(m.hours)
	f.Phase = (*modelfile.Phase)(m.phase)
	if m.lags != nil {
		f.Lags = &modelfile.Lags{}
		for k, ports := range lagPorts(f.Lags) {
			*ports = map[string][]uint16{}
			for c, name := range m.layout.Channels() {
				if len(m.lags.cells[k][c]) > 0 {
					(*ports)[name] = m.lags.cells[k][c]
				}
			}
		}
	}
	f.Trained = modelfile.Provenance{Rounds: m.roundsTrained, Until: m.trainedUntil}
	return f.Save(path)
}

// lagPorts returns l's port lists by cellKind.
func lagPorts(l *modelfile.Lags) [kinds]*map[string][]uint16 {
	return [kinds]*map[string][]uint16{loose: &l.Ports, strict: &l.Strict, steady: &l.Steady}
}
