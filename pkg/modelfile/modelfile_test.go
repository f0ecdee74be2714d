package modelfile

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"portwatch/pkg/engine"
	"portwatch/pkg/modelfile/modelfiletest"
	"portwatch/pkg/portae"
	"portwatch/pkg/threshold"
)

// writeFile writes a raw portae graph with meta as its metadata, as the
// code before this package wrote trained files.
func writeFile(t *testing.T, path string, window int, channels []string, meta map[string]string) {
	t.Helper()
	if err := os.WriteFile(path, modelfiletest.Raw(t, window, channels, meta), 0o600); err != nil {
		t.Fatal(err)
	}
}

// testdata/portae-v1-metadata.json is the metadata of a model the detector
// trained and saved before this package existed (window 3, two channels, 90
// rounds). It must load into the same typed values, and saving it again
// must write the same keys and values, byte for byte.
func TestOldFileRoundTrip(t *testing.T) {
	raw, err := os.ReadFile("testdata/portae-v1-metadata.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]string
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "portae.onnx")
	writeFile(t, path, 3, []string{"tcp_listen", "udp_bound"}, want)
	f, err := Load(path, 8)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Layout.Channels(); !slices.Equal(got, []string{"tcp_listen", "udp_bound"}) || f.Window != 3 {
		t.Errorf("layout, window: got %v, %d, want [tcp_listen udp_bound], 3", got, f.Window)
	}
	if f.Calibration == nil || f.Calibration.Total.N != 45 || f.Calibration.Hour == nil {
		t.Errorf("calibration: got %+v, want total from 45 samples and an hour limit", f.Calibration)
	}
	if f.Hours == nil || f.Hours.Rounds[0] != 30 || f.Hours.On["tcp_listen/22"] == [24]int{} {
		t.Errorf("hours: got %+v, want 30 rounds at 00h and sshd counted", f.Hours)
	}
	if f.Phase != nil || f.Calibration.Start != nil || f.Calibration.Load != nil {
		t.Errorf("phase: got %+v and limits %v, %v; want none in a file from before them", f.Phase, f.Calibration.Start, f.Calibration.Load)
	}
	if got, want := f.Trained.Rounds, 90; got != want {
		t.Errorf("rounds trained: got %d, want %d", got, want)
	}
	if got, want := f.Trained.Until.Format("2006-01-02T15:04:05.000Z"), "2026-11-12T01:29:00.577Z"; got != want {
		t.Errorf("trained until: got %s, want %s", got, want)
	}
	if got, want := f.Version(), portae.Version; got != want || f.Lagged {
		t.Errorf("version: got %s, lagged %v, want %s without the pattern input", got, f.Lagged, want)
	}
	// Clear the metadata Save writes, so that the file's keys come from Save.
	for _, k := range []string{KeyThreshold, KeyCalibration, KeyHours, KeyRoundsTrained, KeyTrainedUntil} {
		f.Engine.SetMetadata(k, "stale")
	}
	out := filepath.Join(t.TempDir(), "saved.onnx")
	if err := f.Save(out); err != nil {
		t.Fatal(err)
	}
	saved, err := engine.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := saved.Metadata(); !maps.Equal(got, want) {
		for k := range maps.Keys(want) {
			if got[k] != want[k] {
				t.Errorf("saved %s: got %.80q, want %.80q", k, got[k], want[k])
			}
		}
		t.Errorf("saved keys: got %v, want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
}

// The phase counts, with and without the week's, go through a save and a
// load unchanged.
func TestPhaseRoundTrip(t *testing.T) {
	f, err := New(Config{Window: 2, Channels: []string{"tcp_listen"}})
	if err != nil {
		t.Fatal(err)
	}
	want := &Phase{Starts: map[string][60]int{"tcp_listen/8167": {26: 70, 27: 2}}}
	want.Rounds[14][26], want.Opened[14][26] = 3, 180.5
	weekly := *want
	weekly.Week = &Week{}
	weekly.Week.Rounds[2][3][30], weekly.Week.Opened[2][3][30] = 1, 140
	for _, want := range []*Phase{want, &weekly} {
		f.Phase = want
		f.Calibration = &Calibration{Total: &threshold.SPOT{Threshold: 10}, Peak: &threshold.SPOT{Threshold: 5}, Start: &threshold.SPOT{Threshold: 1}}
		got := saveLoad(t, f)
		if !reflect.DeepEqual(got.Phase, want) || got.Calibration.Start == nil || got.Calibration.Start.Threshold != 1 {
			t.Errorf("phase: got %+v, start limit %+v; want %+v, 1", got.Phase, got.Calibration.Start, want)
		}
	}
}

// A fresh file holds version, channels, window and zero rounds trained, no
// threshold; one with the clock also says it forecasts its last round. A
// model of listeners is v2, with the pattern input; one of traffic alone v1.
func TestBuildMetadata(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want map[string]string
	}{
		{Config{}, map[string]string{KeyVersion: "portae-v2", KeyChannels: "tcp_listen,udp_bound,tcp_conn,tcp_listen_wildcard",
			KeyWindow: "10", KeyRoundsTrained: "0"}},
		{Config{Window: 4, Channels: []string{"tcp_listen", "clock"}}, map[string]string{KeyVersion: "portae-v2",
			KeyChannels: "tcp_listen,clock", KeyWindow: "4", KeyRoundsTrained: "0", KeyInput: InputForecast}},
		{Config{Window: 4, Channels: []string{"tcp_listen", "udp_bound"}}, map[string]string{KeyVersion: "portae-v2",
			KeyChannels: "tcp_listen,udp_bound", KeyWindow: "4", KeyRoundsTrained: "0"}},
		{Config{Window: 2, Channels: []string{"syn_in", "peers_in"}}, map[string]string{KeyVersion: "portae-v1",
			KeyChannels: "syn_in,peers_in", KeyWindow: "2", KeyRoundsTrained: "0"}},
	} {
		f, err := New(tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Engine.Metadata(); !maps.Equal(got, tt.want) {
			t.Errorf("New(%+v) metadata: got %v, want %v", tt.cfg, got, tt.want)
		}
		if f.Forecast != (tt.want[KeyInput] == InputForecast) {
			t.Errorf("New(%+v): Forecast %v, want %v", tt.cfg, f.Forecast, !f.Forecast)
		}
		if f.Lagged != (tt.want[KeyVersion] == portae.VersionLags) || f.Lags != nil {
			t.Errorf("New(%+v): Lagged %v, Lags %v; want Lagged for %s and no Lags yet", tt.cfg, f.Lagged, f.Lags, portae.VersionLags)
		}
		if f.Calibration != nil || f.Hours != nil || Calibrated(f.Engine.Metadata()) {
			t.Errorf("New(%+v): a fresh model is calibrated", tt.cfg)
		}
	}
}

// A v2 file's lag cells survive Save and Load; lags in a file without the
// pattern input, or naming a channel that is not a listening one of the
// model, are refused with the key named.
func TestLagsRoundTrip(t *testing.T) {
	f, err := New(Config{Window: 2, Channels: []string{"tcp_listen", "udp_bound"}})
	if err != nil {
		t.Fatal(err)
	}
	f.Calibration = &Calibration{Total: &threshold.SPOT{Threshold: 10}, Peak: &threshold.SPOT{Threshold: 5}}
	want := &Lags{Ports: map[string][]uint16{"tcp_listen": {873, 3000}}, Strict: map[string][]uint16{"tcp_listen": {8125}},
		Steady: map[string][]uint16{"tcp_listen": {22}}}
	f.Lags = want
	got := saveLoad(t, f)
	if !got.Lagged || !reflect.DeepEqual(got.Lags, want) {
		t.Errorf("got Lagged %v, Lags %+v; want true, %+v", got.Lagged, got.Lags, want)
	}

	for _, tt := range []struct {
		name     string
		channels []string
		lags     string
	}{
		{"v1", []string{"tcp_listen", "udp_bound"}, `{"ports":{"tcp_listen":[22]}}`},
		{"not listening", nil, `{"ports":{"udp_bound":[53]}}`},
		{"steady not listening", nil, `{"ports":{},"steady":{"udp_bound":[53]}}`},
		{"strict not listening", nil, `{"ports":{},"strict":{"tcp_conn":[80]}}`},
		{"bad json", nil, `{"ports":`},
	} {
		path := filepath.Join(t.TempDir(), "portae.onnx")
		if tt.channels != nil {
			writeFile(t, path, 2, tt.channels, map[string]string{KeyChannels: strings.Join(tt.channels, ","), KeyLags: tt.lags})
		} else {
			f.Lags = nil
			if err := f.Save(path); err != nil {
				t.Fatal(err)
			}
			m, err := engine.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			m.SetMetadata(KeyLags, tt.lags)
			if err := m.Save(path); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := Load(path, 1); err == nil || !strings.Contains(err.Error(), KeyLags) {
			t.Errorf("%s: got %v, want an error naming %s", tt.name, err, KeyLags)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string // "" for none
	}{
		{Config{}, ""},
		{Config{Batch: 8}, ""},
		{Config{Window: 60, Channels: []string{"tcp_listen"}, Batch: 8}, ""},
		{Config{Channels: []string{"bogus"}}, `unknown channels "bogus"; known channels are tcp_listen, udp_bound, tcp_conn`},
		{Config{Channels: []string{"tcp_listen", "tcp_listen"}}, `channel "tcp_listen" listed twice`},
		{Config{Window: -3}, "window -3: want at least 1"},
		{Config{Window: 100000, Batch: 8}, "a window of 100000 rounds of 4 channels at batch 8 needs about 854.6 GiB of memory, more than the 1.0 GiB detect allows: want a window of 1..105"},
		{Config{Window: 1, Channels: []string{"tcp_listen", "clock"}}, "a model that forecasts its last round needs at least 2 rounds"},
		{Config{Window: 10, Batch: 1 << 20}, "no window fits"},
	}
	for _, tt := range tests {
		err := tt.cfg.Check()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Check(%+v): got %v, want none", tt.cfg, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Check(%+v): got %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

// The range CheckSize states is exact: its largest window fits, one more does not.
func TestCheckSizeRange(t *testing.T) {
	for _, c := range []int{1, 4, 7} {
		for _, n := range []int{1, 8, 60} {
			w := maxWindow(c, n)
			if w < 1 {
				continue
			}
			if err := CheckSize(w, c, n); err != nil {
				t.Errorf("CheckSize(%d, %d, %d), the largest window: %v", w, c, n, err)
			}
			if err := CheckSize(w+1, c, n); err == nil {
				t.Errorf("CheckSize(%d, %d, %d), one past the largest window: got no error", w+1, c, n)
			}
		}
	}
	if w := maxWindow(4, 8); w < portae.DefaultWindow {
		t.Errorf("the default shape does not fit: largest window %d at the default channels, batch 8", w)
	}
}

// A model's error suggests restoring .prev only when there is one.
func TestErrorSuggestsPrevOnlyWhenItExists(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "portae.onnx")
	if err := os.WriteFile(path, []byte("not a model"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, 1)
	var me *Error
	if !errors.As(err, &me) {
		t.Fatalf("error: got %v, want a *Error", err)
	}
	if strings.Contains(err.Error(), ".prev") || !strings.Contains(err.Error(), "--reset-model") {
		t.Errorf("without a .prev: got %q, want --reset-model and no .prev", err)
	}
	if err := os.WriteFile(path+".prev", []byte("an older model"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, 1); err == nil || !strings.Contains(err.Error(), "restore portae.onnx.prev or pass --reset-model") {
		t.Errorf("with a .prev: got %v, want it suggested", err)
	}
}

// A file declaring a window no memory holds is refused at load, naming it,
// with the file untouched; a missing file is fs.ErrNotExist.
func TestLoadRefusesAbsurdWindow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portae.onnx")
	writeFile(t, path, 1<<40, nil, nil)
	before, _ := os.ReadFile(path)
	_, err := Load(path, 8)
	var me *Error
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "a window of 1099511627776 rounds of 3 channels at batch 8") {
		t.Errorf("error: got %v, want a *Error naming the window", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("the file changed")
	}
	if _, err := Load(path+".missing", 8); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v, want fs.ErrNotExist", err)
	}
}

// saveLoad saves f to a new file and loads it back.
func saveLoad(t *testing.T, f *File) *File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "portae.onnx")
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
