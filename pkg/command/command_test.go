package command

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"portwatch/pkg/runerr"
	"portwatch/pkg/store"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"7d", 7 * 24 * time.Hour, false},
		{"36h", 36 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"90m", 90 * time.Minute, false},
		{"0d", 0, true},
		{"-1h", 0, true},
		{"d", 0, true},
		{"7days", 0, true},
		{"36500d", MaxDuration, false},
		{"36501d", 0, true},
		{"4294967295d", 0, true}, // days * 24h overflowed a Duration
		{"2562047h", 0, true},    // past MaxDuration
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"4096", 4096, false},
		{"500M", 500 << 20, false},
		{"200MiB", 200 << 20, false},
		{"1.5G", 3 << 29, false},
		{"2k", 2048, false},
		{"0", 0, true},
		{"0.5", 0, true},
		{"-1M", 0, true},
		{"NaN", 0, true},
		{"Inf", 0, true},
		{"-Inf", 0, true},
		{"1e30", 0, true},
		{"1024T", MaxSize, false},
		{"1025T", 0, true},
		{"lots", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// TestCode: one error of each runerr kind (runerr's tests sort the rest).
func TestCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("disk full"), ExitError},
		{fmt.Errorf("cleanup: %w", runerr.BadInputf("bad")), ExitUsage},
		{fmt.Errorf("collect: %w", store.ErrLocked), ExitLocked},
	}
	for _, tt := range tests {
		if got := Code(tt.err); got != tt.want {
			t.Errorf("Code(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestRunPrintsOneLine(t *testing.T) {
	app := &cli.App{Name: "collect", Action: func(*cli.Context) error {
		return errors.Join(errors.New("commit: database or disk is full"), errors.New("close: bad"))
	}}
	var stderr bytes.Buffer
	code := Run(app, []string{"collect"}, &stderr)
	if want := "collect: commit: database or disk is full; close: bad\n"; stderr.String() != want || code != ExitError {
		t.Errorf("exit %d, stderr %q; want exit %d, stderr %q", code, stderr.String(), ExitError, want)
	}
}

func TestRunRecoversPanic(t *testing.T) {
	app := &cli.App{Name: "detect", Action: func(*cli.Context) error {
		var m map[string]int
		m["x"]++ // a bug: assignment to a nil map
		return nil
	}}
	var stderr bytes.Buffer
	code := Run(app, []string{"detect"}, &stderr)
	first, rest, _ := strings.Cut(stderr.String(), "\n")
	if code != ExitError || !strings.HasPrefix(first, "detect: internal error") || !strings.Contains(rest, "goroutine") {
		t.Errorf("exit %d, stderr %q; want exit %d, one line then the stack", code, stderr.String(), ExitError)
	}
}

func TestFlagsFirst(t *testing.T) {
	app := &cli.App{
		Name: "cleanup",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "db", Aliases: []string{"d"}},
			&cli.BoolFlag{Name: "dry-run"},
			&cli.StringSliceFlag{Name: "pcap"},
			&cli.Int64Flag{Name: "max-packets"},
		},
		Commands: []*cli.Command{{Name: "sub", Flags: []cli.Flag{&cli.BoolFlag{Name: "force"}, &cli.StringFlag{Name: "out"}}}},
	}
	tests := []struct{ in, want string }{
		{"cleanup -d DB 30d --dry-run", "cleanup -d DB --dry-run 30d"},
		{"cleanup --pcap a.pcap b.pcap --max-packets 3", "cleanup --pcap a.pcap --max-packets 3 b.pcap"},
		{"cleanup --dry-run=false x -d=DB", "cleanup --dry-run=false -d=DB x"},
		{"cleanup x -- --dry-run", "cleanup -- x --dry-run"},
		{"cleanup --unknown x", "cleanup --unknown x"},
		{"cleanup -d DB sub f --out o --force", "cleanup -d DB sub --out o --force f"},
		{"cleanup -d", "cleanup -d"},
		{"cleanup", "cleanup"},
	}
	for _, tt := range tests {
		if got := strings.Join(FlagsFirst(app, strings.Fields(tt.in)), " "); got != tt.want {
			t.Errorf("FlagsFirst(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
