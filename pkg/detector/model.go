package detector

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"portwatch/pkg/engine"
	"portwatch/pkg/features"
	"portwatch/pkg/onnx"
	"portwatch/pkg/portae"
	"portwatch/pkg/store"
)

// ModelError reports a model file detect cannot use: unreadable, foreign,
// or shaped for other data. The file is left where it is.
type ModelError struct {
	Path   string
	Reason string
	Err    error // the decoder's error, when there is one
}

func (e *ModelError) Error() string {
	s := fmt.Sprintf("model %s: %s", e.Path, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s + " (the file is left in place; restore " + filepath.Base(e.Path) + ".prev or pass --reset-model to start over)"
}

func (e *ModelError) Unwrap() error { return e.Err }

// model is a model file as the detector uses it: the engine's model and
// what its metadata says.
type model struct {
	eng           *engine.Model
	layout        features.Layout
	window        int
	cal           *calibration // nil until calibrated
	hours         *hours       // nil until trained, or in files from before the hour statistic
	roundsTrained int
	trainedUntil  time.Time
	trainer       *engine.Trainer // set by startTraining
	lr            float64         // the trainer's step size
}

// loadModel reads and checks the model file at path. A missing file is an
// error wrapping fs.ErrNotExist; anything else wrong is a *ModelError.
func loadModel(path string) (*model, error) {
	eng, err := engine.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, &ModelError{Path: path, Reason: "cannot be read as an ONNX model (corrupt or not a model)", Err: err}
	}
	m, err := fromEngine(eng)
	if err != nil {
		return nil, &ModelError{Path: path, Reason: err.Error()}
	}
	return m, nil
}

// Channels are the channels of the models detect builds itself: portae's
// three occupancy channels and the wildcard listeners, so that a service
// rebound from loopback to every address (a database opened to the network)
// is a new cell, not the same tcp_listen port as before.
func Channels() []string {
	return []string{features.TCPListen, features.UDPBound, features.TCPConn, features.TCPListenWildcard}
}

// newModel builds an untrained portae v1; nil channels take Channels() and
// a zero window portae's default.
func newModel(channels []string, window int, seed uint64) (*model, error) {
	if channels == nil {
		channels = Channels()
	}
	b, err := portae.Build(portae.Config{Channels: channels, Window: window, Seed: seed})
	if err != nil {
		return nil, err
	}
	eng, err := engine.Decode(b, "new "+portae.Version)
	if err != nil {
		return nil, fmt.Errorf("new model: %w", err)
	}
	return fromEngine(eng)
}

// fromEngine checks the model's input and output against what detect feeds
// and reads, and decodes its metadata; errors say what differs.
func fromEngine(eng *engine.Model) (*model, error) {
	in, out, err := contract(eng)
	if err != nil {
		return nil, err
	}
	meta := eng.Metadata()
	t, c := in.Dims[1], in.Dims[2]
	if t.Value < 1 || c.Value < 1 {
		return nil, fmt.Errorf("input %s has shape %s: the window (T) and channel (C) dims must be fixed", in.Name, engine.FormatDims(in.Dims))
	}
	if o := out.Dims; len(o) != 3 || o[1].Value != c.Value || o[2].Value != features.Ports {
		return nil, fmt.Errorf("output %s has shape %s, want [N,%d,%d] to match input %s",
			out.Name, engine.FormatDims(o), c.Value, features.Ports, engine.FormatDims(in.Dims))
	}
	channels := features.DefaultChannels()
	if s, ok := meta[portae.KeyChannels]; ok {
		channels = strings.Split(s, ",")
	}
	if len(channels) != int(c.Value) {
		return nil, fmt.Errorf("input %s has %d channels, but the model's %s lists %d (%s)",
			in.Name, c.Value, portae.KeyChannels, len(channels), strings.Join(channels, ","))
	}
	layout, err := features.NewLayout(channels)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", portae.KeyChannels, err)
	}
	if s, ok := meta[portae.KeyWindow]; ok && s != strconv.FormatInt(t.Value, 10) {
		return nil, fmt.Errorf("input %s has a window of %d rounds, but the model's %s says %s", in.Name, t.Value, portae.KeyWindow, s)
	}
	m := &model{eng: eng, layout: layout, window: int(t.Value)}
	if s, ok := meta[portae.KeyCalibration]; ok {
		m.cal = &calibration{}
		if err := json.Unmarshal([]byte(s), m.cal); err != nil {
			return nil, fmt.Errorf("%s: %w", portae.KeyCalibration, err)
		}
		if m.cal.Total == nil || m.cal.Peak == nil {
			return nil, fmt.Errorf("%s: want limits for total and peak", portae.KeyCalibration)
		}
	}
	if s, ok := meta[portae.KeyHours]; ok {
		m.hours = &hours{}
		if err := json.Unmarshal([]byte(s), m.hours); err != nil {
			return nil, fmt.Errorf("%s: %w", portae.KeyHours, err)
		}
	}
	if s, ok := meta[portae.KeyRoundsTrained]; ok {
		if m.roundsTrained, err = strconv.Atoi(s); err != nil {
			return nil, fmt.Errorf("%s %q: want a count", portae.KeyRoundsTrained, s)
		}
	}
	if s, ok := meta[portae.KeyTrainedUntil]; ok {
		if m.trainedUntil, err = store.ParseTime(s); err != nil {
			return nil, fmt.Errorf("%s: %w", portae.KeyTrainedUntil, err)
		}
	}
	return m, nil
}

// contract finds the input and output detect uses and checks their ranks.
func contract(eng *engine.Model) (in, out onnx.ValueInfo, err error) {
	var foundIn, foundOut bool
	for _, v := range eng.Inputs() {
		if v.Name == portae.Input {
			in, foundIn = v, true
		}
	}
	for _, v := range eng.Outputs() {
		if v.Name == portae.Output {
			out, foundOut = v, true
		}
	}
	switch {
	case !foundIn || len(eng.Inputs()) != 1:
		return in, out, fmt.Errorf("inputs %s, want exactly one named %q", names(eng.Inputs()), portae.Input)
	case !foundOut:
		return in, out, fmt.Errorf("outputs %s, want one named %q", names(eng.Outputs()), portae.Output)
	case in.ElemType != onnx.TypeFloat || out.ElemType != onnx.TypeFloat:
		return in, out, fmt.Errorf("%s and %s must be float32", portae.Input, portae.Output)
	case len(in.Dims) != 4 || in.Dims[3].Value != features.Ports:
		return in, out, fmt.Errorf("input %s has shape %s, want [N,T,C,%d]", in.Name, engine.FormatDims(in.Dims), features.Ports)
	}
	return in, out, nil
}

func names(vs []onnx.ValueInfo) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.Name
	}
	return "[" + strings.Join(s, ",") + "]"
}

// describe identifies the model file at path in anomalies.model.
func (m *model) describe(path string) string {
	v := m.eng.Metadata()[portae.KeyVersion]
	if v == "" {
		v = "unversioned"
	}
	return fmt.Sprintf("%s %s (%d rounds trained)", filepath.Base(path), v, m.roundsTrained)
}

// save writes the metadata and weights to path atomically, keeping the old file as .prev.
func (m *model) save(path string) error {
	cal, err := json.Marshal(m.cal)
	if err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	// Scores are in units of the calibrated limits (see calibration).
	m.eng.SetMetadata(portae.KeyThreshold, "1")
	m.eng.SetMetadata(portae.KeyCalibration, string(cal))
	if m.hours != nil {
		h, err := json.Marshal(m.hours)
		if err != nil {
			return fmt.Errorf("save model: %w", err)
		}
		m.eng.SetMetadata(portae.KeyHours, string(h))
	}
	m.eng.SetMetadata(portae.KeyRoundsTrained, strconv.Itoa(m.roundsTrained))
	m.eng.SetMetadata(portae.KeyTrainedUntil, store.FormatTime(m.trainedUntil))
	return m.eng.Save(path)
}
