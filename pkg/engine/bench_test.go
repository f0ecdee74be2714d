package engine

import (
	"bufio"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"portwatch/pkg/nn"
	"portwatch/pkg/onnx"
	"portwatch/pkg/portae"
)

// The benchmarks run portae v1 (T=10, C=3). scripts/bench/onnx.sh points
// PORTWATCH_BENCH_MODEL and PORTWATCH_BENCH_INPUT at the files it also
// gives onnxruntime-node; without them a model and input are made here.

func benchModel(b *testing.B, lags bool) *Model {
	b.Helper()
	if path := os.Getenv("PORTWATCH_BENCH_MODEL"); path != "" {
		m, err := Load(path)
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	data, err := portae.Build(portae.Config{Seed: 1, Lags: lags})
	if err != nil {
		b.Fatal(err)
	}
	m, err := Decode(data, "portae")
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func benchInput(b *testing.B, batch int) *tensor.Dense {
	b.Helper()
	path := os.Getenv("PORTWATCH_BENCH_INPUT")
	if path == "" {
		return sparseOccupancy(batch, 10, 3, 1)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	_, x, err := onnx.DecodeTensor(data)
	if err != nil {
		b.Fatal(err)
	}
	return x
}

// resetPeakRSS frees what setup left behind (the input's .pb bytes) and
// restarts the kernel's peak-RSS count, so VmHWM covers the timed loop.
func resetPeakRSS(b *testing.B) {
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("peak RSS includes setup: %v", err)
	}
}

// peakRSS is the process's peak resident set (VmHWM) in MB.
func peakRSS(b *testing.B) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// BenchmarkPortaeRun is inference at batch 60 (or the given input).
func BenchmarkPortaeRun(b *testing.B) {
	m := benchModel(b, false)
	inputs := map[string]*tensor.Dense{portae.Input: benchInput(b, 60)}
	resetPeakRSS(b)
	for b.Loop() {
		if _, err := m.Run(inputs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(peakRSS(b), "MB-peak-RSS")
}

// BenchmarkPortaeTrainStep is one BCE training step at batch 8 (detect's
// micro-batch) and 16, of v1 and of v2 (its pattern input mostly
// portae.NoPattern, as detect fills it); run one sub-benchmark per process
// for its peak RSS.
func BenchmarkPortaeTrainStep(b *testing.B) {
	for _, tt := range []struct {
		batch int
		lags  bool
	}{{8, false}, {16, false}, {8, true}} {
		name := fmt.Sprintf("batch=%d", tt.batch)
		if tt.lags {
			name += "/" + portae.VersionLags
		}
		b.Run(name, func(b *testing.B) {
			batch := tt.batch
			m := benchModel(b, tt.lags)
			x := sparseOccupancy(batch, 10, 3, 2)
			y := nn.ZerosF32(batch, 3, portae.Ports)
			for n := range batch {
				copy(y.Float32s()[n*3*portae.Ports:(n+1)*3*portae.Ports], x.Float32s()[(n*10+9)*3*portae.Ports:])
			}
			tr, err := NewTrainer(m, TrainConfig{Loss: BCE, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			inputs := map[string]*tensor.Dense{portae.Input: x}
			if tt.lags {
				inputs[portae.PatternInput] = benchPattern(batch, 3)
			}
			resetPeakRSS(b)
			for b.Loop() {
				if _, err := tr.Step(inputs, y); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(peakRSS(b), "MB-peak-RSS")
		})
	}
}

// benchPattern is a v2 pattern input for n windows of c channels: a few
// dozen cells a channel with a pattern, the rest portae.NoPattern.
func benchPattern(n, c int) *tensor.Dense {
	p := make([]int64, n*c*portae.Ports)
	for i := range p {
		p[i] = portae.NoPattern(c)
	}
	for i := range n * c {
		for k := range 30 {
			p[i*portae.Ports+k*997] = portae.Pattern(i%c, k%2 == 0, k%3, k%3)
		}
	}
	return nn.NewI64([]int{n, c, portae.Ports}, p)
}
