package command

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

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

func TestCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("disk full"), ExitError},
		{Usagef("--keep %q: bad", "x"), ExitUsage},
		{fmt.Errorf("cleanup: %w", Usagef("bad")), ExitUsage},
		{fmt.Errorf("collect: %w", store.ErrLocked), ExitLocked},
		{fmt.Errorf("open: %w", &store.RefusedError{Path: "x.db", Reason: "owned by uid 4242"}), ExitUsage},
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
