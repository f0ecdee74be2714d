// Package command holds what portwatch's three programs share around their
// urfave/cli apps: the exit codes, the --log-format flag and its logger, and
// flag values for durations with days and for byte sizes.
package command

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"portwatch/pkg/store"
)

// Exit codes, the same for collect, detect and cleanup.
const (
	ExitOK     = 0
	ExitError  = 1 // the run failed: I/O, database, capture, model
	ExitUsage  = 2 // bad flags or bad input named in the message
	ExitLocked = 3 // another run of the same program holds the database's lock
)

// UsageError marks an error caused by what the user passed.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef makes a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Code maps a run's error to its exit code.
func Code(err error) int {
	var (
		ue      *UsageError
		refused *store.RefusedError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, store.ErrLocked):
		return ExitLocked
	case errors.As(err, &ue), errors.As(err, &refused):
		return ExitUsage
	}
	return ExitError
}

// Run runs app with args, prints a failing run's error as one line on
// stderr prefixed with the program's name, and returns the exit code. Mains
// call os.Exit(command.Run(app, os.Args)).
func Run(app *cli.App, args []string, stderr io.Writer) int {
	app.ExitErrHandler = func(*cli.Context, error) {} // errors are printed once, here
	usage := func(_ *cli.Context, err error, _ bool) error { return &UsageError{Err: err} }
	app.OnUsageError = usage
	for _, c := range app.Commands {
		c.OnUsageError = usage
	}
	err := app.Run(args)
	if err == nil {
		return ExitOK
	}
	// One line, whatever the error: joined errors carry newlines.
	fmt.Fprintf(stderr, "%s: %s\n", app.Name, strings.ReplaceAll(err.Error(), "\n", "; "))
	// urfave/cli reports a missing required flag with an unexported type.
	if strings.HasPrefix(err.Error(), "Required flag") {
		return ExitUsage
	}
	return Code(err)
}

// LogFormatFlag makes the --log-format flag every program has.
func LogFormatFlag() *cli.StringFlag {
	return &cli.StringFlag{
		Name:  "log-format",
		Value: "text",
		Usage: "log lines on stderr as `text` or json",
	}
}

// Logger builds the logger --log-format asks for, writing to w.
func Logger(c *cli.Context, w io.Writer) (*slog.Logger, error) {
	switch f := c.String("log-format"); f {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	default:
		return nil, Usagef("--log-format %q: want text or json", f)
	}
}

// ParseDuration reads a Go duration that may also use whole days, as people
// write retention: "7d", "36h", "1d12h", "90m".
func ParseDuration(s string) (time.Duration, error) {
	rest, total := s, time.Duration(0)
	if i := strings.IndexByte(rest, 'd'); i > 0 {
		days, err := strconv.ParseUint(rest[:i], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("duration %q: want e.g. 7d, 36h or 1d12h", s)
		}
		total = time.Duration(days) * 24 * time.Hour
		rest = rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("duration %q: want e.g. 7d, 36h or 1d12h", s)
		}
		total += d
	}
	if total <= 0 {
		return 0, fmt.Errorf("duration %q: want a positive duration such as 7d or 36h", s)
	}
	return total, nil
}

// ParseSize reads a byte size: "500M", "1.5G", "200MiB", "4096" (binary units).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B"), "I")
	mult := int64(1)
	if t != "" {
		if i := strings.IndexByte("KMGT", t[len(t)-1]); i >= 0 {
			mult = int64(1) << (10 * (i + 1))
			t = t[:len(t)-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("size %q: want e.g. 500M, 1.5G or 200MiB", s)
	}
	return int64(v * float64(mult)), nil
}
