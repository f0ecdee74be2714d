// Package command holds what portwatch's three programs share around their
// urfave/cli apps: the exit codes and the one function that picks them, the
// argument order urfave/cli needs, the --log-format flag and its logger, and
// the parsing of durations with days and of byte sizes. Only cmd/ imports it;
// the packages the programs run (pkg/collect, pkg/cleanup, pkg/detectjob)
// return runerr kinds and never name a flag.
package command

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"portwatch/pkg/runerr"
)

// Exit codes, the same for collect, detect and cleanup.
const (
	ExitOK     = 0
	ExitError  = 1 // the run failed: I/O, database, capture, model; or a crash
	ExitUsage  = 2 // bad flags or bad input named in the message
	ExitLocked = 3 // another run of the same program holds the database's lock
)

// Code maps a run's error to its exit code.
func Code(err error) int {
	switch runerr.KindOf(err) {
	case runerr.OK:
		return ExitOK
	case runerr.Bad:
		return ExitUsage
	case runerr.Locked:
		return ExitLocked
	}
	return ExitError
}

// Run runs app with args, prints a failing run's error as one line on
// stderr prefixed with the program's name, and returns the exit code. Mains
// call os.Exit(command.Run(app, os.Args, os.Stderr)).
//
// Flags may follow plain arguments (see FlagsFirst). A panic is recovered
// and exits 1 with one line and the stack on stderr: the runtime's own exit
// code for it, 2, would read as bad usage.
func Run(app *cli.App, args []string, stderr io.Writer) (code int) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(stderr, "%s: internal error (a bug, please report it): %v\n%s", app.Name, p, debug.Stack())
			code = ExitError
		}
	}()
	app.ExitErrHandler = func(*cli.Context, error) {} // errors are printed once, here
	usage := func(_ *cli.Context, err error, _ bool) error { return runerr.BadInput(err) }
	app.OnUsageError = usage
	eachCommand(app.Commands, func(c *cli.Command) { c.OnUsageError = usage })
	err := app.Run(FlagsFirst(app, args))
	if err == nil {
		return ExitOK
	}
	// One line, whatever the error: joined errors carry newlines.
	fmt.Fprintf(stderr, "%s: %s\n", app.Name, strings.ReplaceAll(err.Error(), "\n", "; "))
	return Code(err)
}

func eachCommand(cs []*cli.Command, f func(*cli.Command)) {
	for _, c := range cs {
		f(c)
		eachCommand(c.Subcommands, f)
	}
}

// FlagsFirst moves every flag in args in front of the plain arguments of
// the command it belongs to, so `cleanup -d DB 30d --dry-run` is read with
// --dry-run set (and 30d refused) and `collect --pcap a.pcap b.pcap
// --max-packets 3` with its limit: urfave/cli v2 stops reading flags at the
// first plain argument. Whether a flag takes a value comes from the app's
// own flag definitions. Plain arguments keep their order, after "--" when
// one of them looks like a flag; everything after a "--" stays plain.
func FlagsFirst(app *cli.App, args []string) []string {
	if len(args) == 0 {
		return args
	}
	out := []string{args[0]}
	flags, cmds := app.Flags, app.Commands
	var plain []string
	rest := args[1:]
	for k := 0; k < len(rest); k++ {
		a := rest[k]
		switch {
		case a == "--":
			plain = append(plain, rest[k+1:]...)
			k = len(rest)
		case !strings.HasPrefix(a, "-") || a == "-":
			if c := findCommand(cmds, a); c != nil && len(plain) == 0 {
				out = append(out, a)
				flags, cmds = c.Flags, c.Subcommands
				continue
			}
			plain = append(plain, a)
		case takesValue(flags, a) && k+1 < len(rest):
			out = append(out, a, rest[k+1])
			k++
		default:
			out = append(out, a)
		}
	}
	if slices.ContainsFunc(plain, func(a string) bool { return strings.HasPrefix(a, "-") }) {
		out = append(out, "--")
	}
	return append(out, plain...)
}

func findCommand(cs []*cli.Command, name string) *cli.Command {
	for _, c := range cs {
		if slices.Contains(c.Names(), name) {
			return c
		}
	}
	return nil
}

// takesValue reports whether arg, a flag without "=value", is one of flags
// that reads the next argument as its value. Unknown flags take none:
// urfave/cli refuses them anyway.
func takesValue(flags []cli.Flag, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	if strings.Contains(name, "=") {
		return false
	}
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			_, isBool := f.(*cli.BoolFlag)
			return !isBool
		}
	}
	return false
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
		return nil, runerr.BadInputf("--log-format %q: want text or json", f)
	}
}

// NeedDB refuses a run without -d; a flag's Required would have urfave/cli
// report it with an error only its text tells apart.
func NeedDB(c *cli.Context) error {
	if c.String("db") == "" {
		return runerr.BadInputf("no database: pass -d FILE")
	}
	return nil
}

// NoArgs refuses plain arguments where a command takes none: acting on a
// command line read only in part could ignore a flag such as --dry-run.
func NoArgs(c *cli.Context) error {
	if c.Args().Present() {
		return runerr.BadInputf("unexpected argument %q: this command takes flags only", c.Args().First())
	}
	return nil
}

// MaxDuration is the longest duration ParseDuration accepts: a century,
// far from time.Duration's 292 years, so twice it and a time it is
// subtracted from stay sound.
const MaxDuration = 36500 * 24 * time.Hour

// ParseDuration reads a Go duration that may also use whole days, as people
// write retention: "7d", "36h", "1d12h", "90m". It must be positive and at
// most MaxDuration.
func ParseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("duration %q: want e.g. 7d, 36h or 1d12h, from 1s to 36500d", s)
	rest, total := s, time.Duration(0)
	if i := strings.IndexByte(rest, 'd'); i > 0 {
		days, err := strconv.ParseUint(rest[:i], 10, 32)
		if err != nil || days > uint64(MaxDuration/(24*time.Hour)) {
			return 0, bad
		}
		total = time.Duration(days) * 24 * time.Hour
		rest = rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 || d > MaxDuration {
			return 0, bad
		}
		total += d
	}
	if total <= 0 || total > MaxDuration {
		return 0, bad
	}
	return total, nil
}

// MaxSize is the largest size ParseSize accepts, 1024T.
const MaxSize = int64(1) << 50

// ParseSize reads a byte size: "500M", "1.5G", "200MiB", "4096" (binary
// units), from 1 byte to MaxSize.
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
	// NaN and Inf parse; neither is a size. The comparisons are false for NaN.
	if err != nil || math.IsInf(v, 0) || !(v*float64(mult) >= 1 && v*float64(mult) <= float64(MaxSize)) {
		return 0, fmt.Errorf("size %q: want e.g. 500M, 1.5G or 200MiB, from 1 byte to 1024T", s)
	}
	return int64(v * float64(mult)), nil
}
