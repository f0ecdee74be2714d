// Package clitest runs portwatch's CLI script tests (cmd/*/testdata/*.txtar)
// with rogpeppe/go-internal's testscript, the programs' real mains run as
// commands, and adds the commands those scripts need to make real inputs:
//
//	exits CODE PROGRAM ARGS...     run PROGRAM like exec, and want exit code CODE
//	mkdb FILE DAYS...              a portwatch database, one complete live round started DAYS ago each
//	foreigndb FILE                 a SQLite file with a table of its own and no portwatch schema (storetest.Foreign)
//	pcap FILE mixed|scan           a capture file: capturetest.Mixed (18 frames) or Scan(5) (10 frames)
//	cmpone PATTERN FILE            exactly one file matches the glob PATTERN, with FILE's content
//	cut FILE N                     FILE less its last N bytes
//	history N RELEASED [FROM TO]   detect's test history (detectortest.New), its paths in $DB and $MODEL
//	release ID                     rounds of $DB up to ID marked complete
//	sql FILE QUERY                 print the one value QUERY returns from the database, read only
//	lock FILE PROGRAM              hold PROGRAM's run lock on database FILE (store.TryLock) ...
//	unlock FILE PROGRAM            ... until here or the script's end
package clitest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the sql command's driver
	"github.com/rogpeppe/go-internal/testscript"

	"portwatch/pkg/capture/capturetest"
	"portwatch/pkg/detector/detectortest"
	"portwatch/pkg/store"
	"portwatch/pkg/store/storetest"
)

// Main is a cmd package's TestMain: the test binary doubles as the program
// named name, run by main.
func Main(m *testing.M, name string, main func()) {
	testscript.Main(m, map[string]func(){name: main})
}

// Run runs the scripts in dir.
func Run(t *testing.T, dir string) {
	testscript.Run(t, testscript.Params{
		Dir: dir,
		Setup: func(e *testscript.Env) error {
			// testscript's T for a script is its *testing.T: the fixture
			// helpers take a testing.TB.
			tb, ok := e.T().(testing.TB)
			if !ok {
				return fmt.Errorf("clitest: script T %T is not a testing.TB", e.T())
			}
			st := &state{tb: tb, locks: map[string]*store.Lock{}}
			e.Values[stateKey{}] = st
			e.Defer(func() {
				for _, l := range st.locks {
					l.Unlock()
				}
			})
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":     exits,
			"mkdb":      mkdb,
			"foreigndb": foreigndb,
			"pcap":      pcap,
			"cut":       cut,
			"cmpone":    cmpone,
			"history":   history,
			"release":   release,
			"sql":       query,
			"lock":      lock,
			"unlock":    unlock,
		},
	})
}

// state is one script's: its test and the history it made.
type state struct {
	tb    testing.TB
	h     *detectortest.History
	locks map[string]*store.Lock // by FILE PROGRAM
}

type stateKey struct{}

func stateOf(ts *testscript.TestScript) *state { return ts.Value(stateKey{}).(*state) }

func tb(ts *testscript.TestScript) testing.TB { return stateOf(ts).tb }

// fixture refuses neg and a wrong number of arguments.
func fixture(ts *testscript.TestScript, neg bool, args []string, min, max int, usage string) {
	if neg {
		ts.Fatalf("unsupported: ! %s", usage)
	}
	if len(args) < min || len(args) > max {
		ts.Fatalf("usage: %s", usage)
	}
}

func exits(ts *testscript.TestScript, neg bool, args []string) {
	fixture(ts, neg, args, 2, 1000, "exits CODE PROGRAM ARGS...")
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

func mkdb(ts *testscript.TestScript, neg bool, args []string) {
	fixture(ts, neg, args, 1, 1000, "mkdb FILE DAYS...")
	db, err := store.Open(context.Background(), ts.MkAbs(args[0]))
	ts.Check(err)
	defer db.Close()
	w, err := db.NewWriter()
	ts.Check(err)
	for _, a := range args[1:] {
		days, err := strconv.ParseFloat(a, 64)
		ts.Check(err)
		start := time.Now().Add(-time.Duration(days * 24 * float64(time.Hour)))
		id, err := w.StartRound(start, "live")
		ts.Check(err)
		ts.Check(w.EndRound(id, start.Add(time.Minute), store.Complete, store.Counts{}))
	}
	ts.Check(w.Close())
}

func foreigndb(ts *testscript.TestScript, neg bool, args []string) {
	fixture(ts, neg, args, 1, 1, "foreigndb FILE")
	storetest.Foreign(tb(ts), ts.MkAbs(args[0]))
}

func pcap(ts *testscript.TestScript, neg bool, args []string) {
	fixture(ts, neg, args, 2, 2, "pcap FILE mixed|scan")
	t := tb(ts)
	switch args[1] {
	case "mixed":
		capturetest.Write(t, ts.MkAbs(args[0]), capturetest.Mixed(t)...)
	case "scan":
		capturetest.Write(t, ts.MkAbs(args[0]), capturetest.Scan(t, 5)...)
	default:
		ts.Fatalf("pcap %s: want mixed or scan", args[1])
	}
}

func cut(ts *testscript.TestScript, neg bool, args []string) {
	fixture(ts, neg, args, 2, 2, "cut FILE N")
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	st, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	ts.Check(os.Truncate(ts.MkAbs(args[0]), st.Size()-n))
}

func cmpone(ts *testscript.TestScript, neg bool, args []string) {
	fixture(ts, neg, args, 2, 2, "cmpone PATTERN FILE")
	m, err := filepath.Glob(ts.MkAbs(args[0]))
	ts.Check(err)
	if len(m) != 1 {
		ts.Fatalf("cmpone %s: %d files match, want one: %v", args[0], len(m), m)
	}
	got, err := os.ReadFile(m[0])
	ts.Check(err)
	if want := ts.ReadFile(args[1]); string(got) != want {
		ts.Fatalf("%s and %s differ", m[0], args[1])
	}
}

func history(ts *testscript.TestScript, neg bool, args []string) {
	fixture(ts, neg, args, 2, 4, "history N RELEASED [FROM TO]")
	n := make([]int64, 4)
	for i, a := range args {
		v, err := strconv.ParseInt(a, 10, 64)
		ts.Check(err)
		n[i] = v
	}
	h := detectortest.New(tb(ts), int(n[0]), int(n[1]), n[2], n[3])
	stateOf(ts).h = h
	ts.Setenv("DB", h.Path)
	ts.Setenv("MODEL", h.Model)
}

func release(ts *testscript.TestScript, neg bool, args []string) {
	fixture(ts, neg, args, 1, 1, "release ID")
	h := stateOf(ts).h
	if h == nil {
		ts.Fatalf("release: no history yet")
	}
	id, err := strconv.Atoi(args[0])
	ts.Check(err)
	h.Release(tb(ts), id)
}

func query(ts *testscript.TestScript, neg bool, args []string) {
	fixture(ts, neg, args, 2, 2, "sql FILE QUERY")
	db, err := sql.Open("sqlite3", "file:"+ts.MkAbs(args[0])+"?mode=ro")
	ts.Check(err)
	defer db.Close()
	var v any
	ts.Check(db.QueryRow(args[1]).Scan(&v))
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	fmt.Fprintln(ts.Stdout(), v)
}

func lock(ts *testscript.TestScript, neg bool, args []string) {
	fixture(ts, neg, args, 2, 2, "lock FILE PROGRAM")
	l, err := store.TryLock(ts.MkAbs(args[0]), args[1])
	ts.Check(err)
	stateOf(ts).locks[args[0]+" "+args[1]] = l
}

func unlock(ts *testscript.TestScript, neg bool, args []string) {
	fixture(ts, neg, args, 2, 2, "unlock FILE PROGRAM")
	st, key := stateOf(ts), args[0]+" "+args[1]
	l, ok := st.locks[key]
	if !ok {
		ts.Fatalf("unlock %s: not locked here", key)
	}
	l.Unlock()
	delete(st.locks, key)
}
