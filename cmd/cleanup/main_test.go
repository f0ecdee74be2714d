package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portwatch/pkg/command"
	"portwatch/pkg/store"
)

// runCLI runs the cleanup app in-process as the shell would.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errs
	code = command.Run(app, append([]string{"cleanup"}, args...), &errs)
	return code, out.String(), errs.String()
}

// newDB makes a real database holding one round from 30 days ago and one from now.
func newDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ports.db")
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w, err := db.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	for _, start := range []time.Time{time.Now().Add(-30 * 24 * time.Hour), time.Now()} {
		id, err := w.StartRound(start, "live")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.EndRound(id, start.Add(time.Minute), store.Complete, store.Counts{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCLI(t *testing.T) {
	db := newDB(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{"no database flag", nil, command.ExitUsage, "", "Required flag"},
		{"unknown flag", []string{"-d", db, "--frobnicate"}, command.ExitUsage, "", "frobnicate"},
		{"bad keep", []string{"-d", db, "--keep", "soon"}, command.ExitUsage, "", `--keep: duration "soon"`},
		{"bad size", []string{"-d", db, "--max-size", "huge"}, command.ExitUsage, "", `--max-size: size "huge"`},
		{"bad keep-packets", []string{"-d", db, "--keep-packets", "later"}, command.ExitUsage, "", `--keep-packets: duration "later"`},
		{"bad log format", []string{"-d", db, "--log-format", "xml"}, command.ExitUsage, "", "--log-format"},
		{"missing database", []string{"-d", filepath.Join(t.TempDir(), "none.db")}, command.ExitUsage, "", "does not exist"},
		{"dry run", []string{"-d", db, "--dry-run"}, command.ExitOK, "cleanup: would delete 1 rounds", ""},
		{"real run", []string{"-d", db, "--log-format", "json"}, command.ExitOK, "cleanup: deleted 1 rounds", `"msg":"cleanup done"`},
		{"nothing left to do", []string{"-d", db}, command.ExitOK, "cleanup: deleted 0 rounds", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout containing %q, stderr containing %q",
					code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

func TestSecondCleanupIsRefused(t *testing.T) {
	db := newDB(t)
	lock, err := store.TryLock(db, "cleanup")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	code, _, stderr := runCLI(t, "-d", db)
	if code != command.ExitLocked || !strings.Contains(stderr, "another run") {
		t.Errorf("exit %d, stderr %q; want exit %d naming the other run", code, stderr, command.ExitLocked)
	}
	// collect's lock is not cleanup's: they may run together.
	other, err := store.TryLock(db, "collect")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Unlock()
	lock.Unlock()
	if code, _, stderr := runCLI(t, "-d", db); code != command.ExitOK {
		t.Errorf("with collect running: exit %d, stderr %q; want 0", code, stderr)
	}
}
