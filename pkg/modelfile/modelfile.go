// Package modelfile owns portwatch's model file: one ONNX file that is the
// whole model, graph and weights, and in its metadata_props everything
// detect keeps between runs. It is the only package that reads or writes a
// metadata key; callers get typed values.
//
// The contract a file must meet, whoever made it (portae, or an export from
// PyTorch or Keras): an input portae.Input float32 [N, T, C, 65536], and
// an output portae.Output float32 [N, C, 65536], with T and C fixed; T·C
// small enough for detect's memory (see CheckSize). A second input,
// portae.PatternInput int64 [N, C, 65536], makes the file a lag model (see
// pkg/portae's v2), fed each cell's lag pattern. Metadata:
//
//	portwatch.version         the architecture: "portae-v2" for the files the project builds, "portae-v1" before the lags
//	portwatch.channels        the C channel names, comma-separated, in input order
//	                          (absent: features.OccupancyChannels(), which needs C = 3)
//	portwatch.window          T; must agree with the input's dim when present
//	portwatch.threshold       "1" once calibrated (scores are in units of the limits)
//	portwatch.calibration     JSON Calibration: a pkg/threshold SPOT per statistic
//	portwatch.hours           JSON Hours: per-hour counts of the listening ports trained on
//	portwatch.phase           JSON Phase: per-minute-of-the-hour counts of rounds, connections and listener starts, and per day of the week
//	portwatch.rounds_trained  rounds the model was trained on, first training and refits
//	portwatch.trained_until   start of the newest round trained on (RFC 3339, UTC)
//	portwatch.lags            JSON Lags: the cells a lag model's offsets shift, set by its first training
//
// Load reads and checks a file, New builds a fresh portae, File.Save
// writes one back atomically, keeping the previous file as .prev.
//
// The package is apart from pkg/portae, the builder, because the contract
// holds for any model and because the engine's own tests build portae
// graphs: portae cannot import the engine, and this package must.
package modelfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"portwatch/pkg/engine"
	"portwatch/pkg/features"
	"portwatch/pkg/onnx"
	"portwatch/pkg/portae"
	"portwatch/pkg/store"
	"portwatch/pkg/threshold"
)

// Metadata keys (the contract with model files on disk; see the package doc).
const (
	KeyVersion       = "portwatch.version"
	KeyChannels      = "portwatch.channels"
	KeyWindow        = "portwatch.window"
	KeyThreshold     = "portwatch.threshold"
	KeyCalibration   = "portwatch.calibration"
	KeyHours         = "portwatch.hours"
	KeyPhase         = "portwatch.phase"
	KeyRoundsTrained = "portwatch.rounds_trained"
	KeyTrainedUntil  = "portwatch.trained_until"
	KeyInput         = "portwatch.input"
	KeyLags          = "portwatch.lags"
)

// InputForecast is KeyInput's value for a model whose window's last round
// is masked (features.Layout.FillForecast): it forecasts that round from
// the rounds before and its clock. Files without KeyInput reconstruct the
// last round as given.
const InputForecast = "forecast"

// DefaultChannels are the channels of the models detect builds, by `detect
// model new` and by a first cron run alike: the three occupancy channels and
// the wildcard listeners, so that a service rebound from loopback to every
// address (a database opened to the network) is a new cell, not the same
// tcp_listen port as before. Detection quality was measured with these.
//
// The clock channel is not among them: a model given it forecasts its last
// round from the rounds before and the calendar (File.Forecast), which is
// what phase needs, but trained within detect's budget it did not learn the
// recurring jobs' phases better than without it (see the README's
// detection quality), and it costs a fifth more per run. Pass it to `detect
// model new --channels` to try it.
func DefaultChannels() []string {
	return append(features.OccupancyChannels(), features.TCPListenWildcard)
}

// Calibration is portwatch.calibration: a limit per statistic detect
// computes. Hour is nil in files from before the hour statistic.
//
// Excess is the limit on the round's surprise beyond what the model itself
// expects (see pkg/detector); files from before it have only Total, and
// are judged on Total.
type Calibration struct {
	Total  *threshold.SPOT `json:"total"`
	Excess *threshold.SPOT `json:"excess,omitempty"`
	Peak   *threshold.SPOT `json:"peak"`
	Hour   *threshold.SPOT `json:"hour,omitempty"`
	// Start and Load are the limits on the phase statistics (see
	// pkg/detector): a listener starting at an unusual minute of the hour,
	// and more client connections than usual at the round's hour and
	// minute. Absent in files from before them.
	Start *threshold.SPOT `json:"start,omitempty"`
	Load  *threshold.SPOT `json:"load,omitempty"`
	// Gone is the limit on a listener missing for a run of rounds (see
	// pkg/detector). Absent in files from before it.
	Gone *threshold.SPOT `json:"gone,omitempty"`
	// Traffic holds a limit per traffic statistic (pkg/detector's names:
	// probed_ports, dns_names, ...), for models trained on rounds with a
	// traffic summary; absent otherwise and in files from before them.
	Traffic map[string]*threshold.SPOT `json:"traffic,omitempty"`
	// PeakFloor is the least limit on Peak, in nats: what a listener seen
	// once in training costs (see pkg/detector). 0 in files from before it.
	PeakFloor float64 `json:"peak_floor,omitempty"`
}

// Hours is portwatch.hours: the training rounds of each hour of the day
// (UTC), and for each listening (channel, port), keyed "channel/port", the
// rounds of each hour it was in use.
type Hours struct {
	Rounds [24]int            `json:"rounds"`
	On     map[string][24]int `json:"on"`
}

// Phase is portwatch.phase: the training rounds by hour of the day and
// minute of the hour (UTC), the client connections those rounds opened
// (TCP sockets not listening, on local ports the round before had none on)
// summed, and for each listening (channel, port),
// keyed "channel/port", the rounds at each minute of the hour it started
// listening in (listening, and not in the round before).
type Phase struct {
	Rounds [24][60]int     `json:"rounds"`
	Opened [24][60]float64 `json:"opened"`
	// Pearson sums (opened - usual)²/usual, clipped, over Dispersed rounds: how much
	// more the host's connections wander than a Poisson count's.
	Pearson   float64            `json:"pearson"`
	Dispersed int                `json:"dispersed"`
	Starts    map[string][60]int `json:"starts"`
	// Week holds the same rounds and connections by day of the week too,
	// so a weekly job seen once is usual at its day and time; nil in files
	// from before it, which gain it with their next refit.
	Week *Week `json:"week,omitempty"`
	// Openers holds, for each process that opened client connections, the
	// rounds it opened some in by minute of the hour (a batch job that
	// connects at minute 0 only) and by hour of the day. Nil in files from
	// before it, which start counting with their next refit.
	Openers map[string]Opener `json:"openers,omitempty"`
}

// Opener is one process's rounds opening client connections, by minute of
// the hour and by hour of the day (UTC).
type Opener struct {
	Minutes [60]int `json:"minutes"`
	Hours   [24]int `json:"hours"`
}

// Week is Phase's count of rounds and the client connections they opened
// by day of the week (Sunday 0), hour of the day and minute of the hour (UTC).
type Week struct {
	Rounds [7][24][60]int     `json:"rounds"`
	Opened [7][24][60]float64 `json:"opened"`
}

// Lags is portwatch.lags: per listening channel, the ports whose cells a
// lag model's offsets shift (the pattern input gives the others
// portae.NoPattern): Ports those that come and go, Strict those that come
// and go and started only with a precedent in training (a start without one
// is portae.Unheralded), Steady those nearly always listening, shifted only
// by portae.Restart.
type Lags struct {
	Ports  map[string][]uint16 `json:"ports"`
	Strict map[string][]uint16 `json:"strict,omitempty"`
	Steady map[string][]uint16 `json:"steady,omitempty"`
}

// Provenance is what the model was trained on.
type Provenance struct {
	Rounds int       // portwatch.rounds_trained
	Until  time.Time // portwatch.trained_until; zero when absent
}

// File is a checked model file: the engine's model and its typed metadata.
// Change the fields, then Save.
type File struct {
	Engine      *engine.Model
	Layout      features.Layout
	Window      int          // T
	Calibration *Calibration // nil until calibrated
	Hours       *Hours       // nil until trained, or in files from before the hour statistic
	Phase       *Phase       // nil until trained, or in files from before the phase statistics
	// Lagged says the file has the pattern input; Lags is nil until its
	// first training, and in files without the input.
	Lagged  bool
	Lags    *Lags
	Trained Provenance
	// Forecast says the window's last round is masked (KeyInput is
	// InputForecast): fill windows with Layout.FillForecast.
	Forecast bool
}

// Error reports a model file detect cannot use: unreadable, foreign,
// shaped for other data or too big for memory. The file is left where it is.
type Error struct {
	Path   string
	Reason string
	Err    error // the decoder's error, when there is one
	Prev   bool  // Path.prev exists, a file to restore
}

func (e *Error) Error() string {
	s := fmt.Sprintf("model %s: %s", e.Path, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.Prev {
		return s + " (the file is left in place; restore " + filepath.Base(e.Path) + ".prev or pass --reset-model to start over)"
	}
	return s + " (the file is left in place; pass --reset-model to start over)"
}

func (e *Error) Unwrap() error { return e.Err }

// Load reads and checks the model file at path for a detector running batch
// windows at a time. A missing file is an error wrapping fs.ErrNotExist;
// anything else wrong is an *Error, found before any tensor of the file's
// declared shape is allocated.
func Load(path string, batch int) (*File, error) {
	eng, err := engine.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	fail := func(reason string, err error) error {
		_, prev := os.Stat(path + ".prev")
		return &Error{Path: path, Reason: reason, Err: err, Prev: prev == nil}
	}
	if err != nil {
		return nil, fail("cannot be read as an ONNX model (corrupt or not a model)", err)
	}
	f, err := decode(eng)
	if err == nil {
		err = CheckSize(f.Window, f.Layout.C(), batch)
	}
	if err != nil {
		return nil, fail(err.Error(), nil)
	}
	return f, nil
}

// Config chooses a new model's shape.
type Config struct {
	Window   int      // T (0: portae.DefaultWindow)
	Channels []string // nil: DefaultChannels()
	Seed     uint64   // seeds the initial weights
	Batch    int      // windows per engine run the model must fit at (0: 1)
}

// withDefaults returns c with its zero fields filled.
func (c Config) withDefaults() Config {
	if c.Window == 0 {
		c.Window = portae.DefaultWindow
	}
	if c.Channels == nil {
		c.Channels = DefaultChannels()
	}
	c.Batch = max(c.Batch, 1)
	return c
}

// Check reports what is wrong with c, if anything: unknown or repeated
// channels (naming the known ones), a window below 1, or a shape that does
// not fit in memory (giving the windows that do).
func (c Config) Check() error {
	c = c.withDefaults()
	if _, err := features.NewLayout(c.Channels); err != nil {
		return err
	}
	if c.Window < 1 {
		return fmt.Errorf("window %d: want at least 1", c.Window)
	}
	if c.Window < 2 && slices.Contains(c.Channels, features.Clock) {
		return fmt.Errorf("window %d with the %s channel: a model that forecasts its last round needs at least 2 rounds", c.Window, features.Clock)
	}
	return CheckSize(c.Window, len(c.Channels), c.Batch)
}

// Version is the architecture Build makes for c: portae v2 when a channel
// holds listeners (features.Listening), which its lag term shifts; v1 for a
// model of traffic alone.
func (c Config) Version() string {
	if slices.ContainsFunc(c.withDefaults().Channels, features.Listening) {
		return portae.VersionLags
	}
	return portae.Version
}

// Build returns a fresh, untrained portae as a serialized ONNX file with its
// metadata, as `detect model new` writes it, of c.Version().
func Build(c Config) ([]byte, error) {
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("new model: %w", err)
	}
	c = c.withDefaults()
	version := c.Version()
	lags := version == portae.VersionLags
	meta := []onnx.Prop{
		{Key: KeyVersion, Value: version},
		{Key: KeyChannels, Value: strings.Join(c.Channels, ",")},
		{Key: KeyWindow, Value: strconv.Itoa(c.Window)},
		{Key: KeyRoundsTrained, Value: "0"},
	}
	// A model given the calendar forecasts: shown the round to judge, it
	// would learn to copy it instead of when things happen.
	if slices.Contains(c.Channels, features.Clock) {
		meta = append(meta, onnx.Prop{Key: KeyInput, Value: InputForecast})
	}
	b, err := portae.Build(portae.Config{Window: c.Window, Channels: c.Channels, Seed: c.Seed, Metadata: meta, Lags: lags})
	if err != nil {
		return nil, fmt.Errorf("new model: %w", err)
	}
	return b, nil
}

// New returns a fresh, untrained portae, in memory, as Build makes it.
func New(c Config) (*File, error) {
	b, err := Build(c)
	if err != nil {
		return nil, err
	}
	eng, err := engine.Decode(b, "new portae")
	if err != nil {
		return nil, fmt.Errorf("new model: %w", err)
	}
	return decode(eng)
}

// decode checks the model's input and output against the contract and
// decodes its metadata; errors say what differs.
func decode(eng *engine.Model) (*File, error) {
	in, out, lagged, err := contract(eng)
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
	channels := features.OccupancyChannels()
	if s, ok := meta[KeyChannels]; ok {
		channels = strings.Split(s, ",")
	}
	if int64(len(channels)) != c.Value {
		return nil, fmt.Errorf("input %s has %d channels, but the model's %s lists %d (%s)",
			in.Name, c.Value, KeyChannels, len(channels), strings.Join(channels, ","))
	}
	layout, err := features.NewLayout(channels)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KeyChannels, err)
	}
	if s, ok := meta[KeyWindow]; ok && s != strconv.FormatInt(t.Value, 10) {
		return nil, fmt.Errorf("input %s has a window of %d rounds, but the model's %s says %s", in.Name, t.Value, KeyWindow, s)
	}
	f := &File{Engine: eng, Layout: layout, Window: int(t.Value), Lagged: lagged}
	switch s := meta[KeyInput]; s {
	case "":
	case InputForecast:
		if f.Window < 2 {
			return nil, fmt.Errorf("%s is %s, but the window of %d round has no round before its last", KeyInput, s, f.Window)
		}
		f.Forecast = true
	default:
		return nil, fmt.Errorf("%s %q: want %q or none", KeyInput, s, InputForecast)
	}
	if s, ok := meta[KeyCalibration]; ok {
		f.Calibration = &Calibration{}
		if err := json.Unmarshal([]byte(s), f.Calibration); err != nil {
			return nil, fmt.Errorf("%s: %w", KeyCalibration, err)
		}
		if f.Calibration.Total == nil || f.Calibration.Peak == nil {
			return nil, fmt.Errorf("%s: want limits for total and peak", KeyCalibration)
		}
	}
	if f.Hours, err = decodeJSON[Hours](meta, KeyHours); err != nil {
		return nil, err
	}
	if f.Phase, err = decodeJSON[Phase](meta, KeyPhase); err != nil {
		return nil, err
	}
	if f.Lags, err = decodeJSON[Lags](meta, KeyLags); err != nil {
		return nil, err
	}
	if f.Lags != nil && !lagged {
		return nil, fmt.Errorf("%s is set, but the model has no %s input", KeyLags, portae.PatternInput)
	}
	if f.Lags != nil {
		for _, ports := range []map[string][]uint16{f.Lags.Ports, f.Lags.Strict, f.Lags.Steady} {
			for name := range ports {
				if !features.Listening(name) || !slices.Contains(channels, name) {
					return nil, fmt.Errorf("%s: %q is not a listening channel of the model", KeyLags, name)
				}
			}
		}
	}
	if s, ok := meta[KeyRoundsTrained]; ok {
		if f.Trained.Rounds, err = strconv.Atoi(s); err != nil {
			return nil, fmt.Errorf("%s %q: want a count", KeyRoundsTrained, s)
		}
	}
	if s, ok := meta[KeyTrainedUntil]; ok {
		if f.Trained.Until, err = store.ParseTime(s); err != nil {
			return nil, fmt.Errorf("%s: %w", KeyTrainedUntil, err)
		}
	}
	return f, nil
}

// decodeJSON reads the JSON value of key in meta; nil when the file has none.
func decodeJSON[T any](meta map[string]string, key string) (*T, error) {
	s, ok := meta[key]
	if !ok {
		return nil, nil
	}
	v := new(T)
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return v, nil
}

// contract finds the input and output detect uses and checks their ranks;
// lagged reports the pattern input.
func contract(eng *engine.Model) (in, out onnx.ValueInfo, lagged bool, err error) {
	var foundIn bool
	var foundOut bool
	var pattern onnx.ValueInfo
	for _, v := range eng.Inputs() {
		switch v.Name {
		case portae.Input:
			in, foundIn = v, true
		case portae.PatternInput:
			pattern, lagged = v, true
		}
	}
	want := 1
	if lagged {
		want = 2
	}
	for _, v := range eng.Outputs() {
		if v.Name == portae.Output {
			out, foundOut = v, true
		}
	}
	switch {
	case !foundIn || len(eng.Inputs()) != want:
		return in, out, false, fmt.Errorf("inputs %s, want one named %q and at most one more, %q", names(eng.Inputs()), portae.Input, portae.PatternInput)
	case !foundOut:
		return in, out, false, fmt.Errorf("outputs %s, want one named %q", names(eng.Outputs()), portae.Output)
	case in.ElemType != onnx.TypeFloat || out.ElemType != onnx.TypeFloat:
		return in, out, false, fmt.Errorf("%s and %s must be float32", portae.Input, portae.Output)
	case len(in.Dims) != 4 || in.Dims[3].Value != features.Ports:
		return in, out, false, fmt.Errorf("input %s has shape %s, want [N,T,C,%d]", in.Name, engine.FormatDims(in.Dims), features.Ports)
	case lagged && (pattern.ElemType != onnx.TypeInt64 || len(pattern.Dims) != 3 || pattern.Dims[1].Value != in.Dims[2].Value || pattern.Dims[2].Value != features.Ports):
		return in, out, false, fmt.Errorf("input %s has shape %s of %s, want int64 [N,%d,%d] to match input %s",
			pattern.Name, engine.FormatDims(pattern.Dims), onnx.TypeName(pattern.ElemType), in.Dims[2].Value, features.Ports, engine.FormatDims(in.Dims))
	}
	return in, out, lagged, nil
}

func names(vs []onnx.ValueInfo) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.Name
	}
	return "[" + strings.Join(s, ",") + "]"
}

// Version is the file's portwatch.version, "unversioned" when absent.
func (f *File) Version() string {
	if v := f.Engine.Metadata()[KeyVersion]; v != "" {
		return v
	}
	return "unversioned"
}

// Calibrated reports whether meta, a file's metadata, holds a calibration.
func Calibrated(meta map[string]string) bool {
	_, ok := meta[KeyThreshold]
	return ok
}

// Save writes the weights and metadata to path atomically, keeping the old
// file as .prev. The file must be calibrated.
func (f *File) Save(path string) error {
	if f.Calibration == nil {
		return fmt.Errorf("save model %s: not calibrated", path)
	}
	cal, err := json.Marshal(f.Calibration)
	if err != nil {
		return fmt.Errorf("save model %s: %w", path, err)
	}
	// Scores are in units of the calibrated limits.
	f.Engine.SetMetadata(KeyThreshold, "1")
	f.Engine.SetMetadata(KeyCalibration, string(cal))
	if f.Hours != nil {
		if err := f.setJSON(KeyHours, f.Hours); err != nil {
			return fmt.Errorf("save model %s: %w", path, err)
		}
	}
	if f.Lags != nil {
		if err := f.setJSON(KeyLags, f.Lags); err != nil {
			return fmt.Errorf("save model %s: %w", path, err)
		}
	}
	if f.Phase != nil {
		if err := f.setJSON(KeyPhase, f.Phase); err != nil {
			return fmt.Errorf("save model %s: %w", path, err)
		}
	} else {
		f.Engine.DeleteMetadata(KeyPhase) // a file read without the counts is written without them
	}
	f.Engine.SetMetadata(KeyRoundsTrained, strconv.Itoa(f.Trained.Rounds))
	f.Engine.SetMetadata(KeyTrainedUntil, store.FormatTime(f.Trained.Until))
	return f.Engine.Save(path)
}

// setJSON sets metadata key to v as JSON.
func (f *File) setJSON(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	f.Engine.SetMetadata(key, string(b))
	return nil
}
