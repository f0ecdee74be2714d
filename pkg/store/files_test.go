package store_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"portwatch/pkg/store"
)

// otherUID is a non-root user that is not this test's.
const otherUID = 4242

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
}

// TestLockRefusesPlantedFiles: a lock file planted as a link, or owned by
// another user, is refused, and the link's target is never created.
func TestLockRefusesPlantedFiles(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ports.db")
	target := filepath.Join(dir, "nologin")
	if err := os.Symlink(target, store.LockPath(db, "collect")); err != nil {
		t.Fatal(err)
	}
	var refused *store.RefusedError
	if _, err := store.TryLock(db, "collect"); !errors.As(err, &refused) {
		t.Errorf("TryLock through a planted link: got %v, want a *RefusedError", err)
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Errorf("the link's target exists after TryLock (%v); want it never created", err)
	}

	needRoot(t)
	other := store.LockPath(db, "detect")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(other, otherUID, otherUID); err != nil {
		t.Fatal(err)
	}
	if _, err := store.TryLock(db, "detect"); !errors.As(err, &refused) || !strings.Contains(err.Error(), "owned by uid 4242") {
		t.Errorf("TryLock on another user's lock file: got %v, want a *RefusedError naming the owner", err)
	}
}

// TestLockThroughSymlink: a run through a link to the database and one
// through the database's own name take the same lock.
func TestLockThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ports.db")
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link.db")
	if err := os.Symlink(db, link); err != nil {
		t.Fatal(err)
	}
	first, err := store.TryLock(db, "detect")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Unlock()
	if _, err := store.TryLock(link, "detect"); !errors.Is(err, store.ErrLocked) {
		t.Errorf("TryLock through a link while the target is locked: got %v, want ErrLocked", err)
	}
}

// TestWaitLock: a cancelled wait leaves; the lock is taken once released.
func TestWaitLock(t *testing.T) {
	model := filepath.Join(t.TempDir(), "portae.onnx")
	held, err := store.WaitLock(context.Background(), model)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := store.WaitLock(ctx, model); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitLock on a held lock with a cancelled context: got %v, want context.Canceled", err)
	}
	if err := held.Unlock(); err != nil {
		t.Fatal(err)
	}
	again, err := store.WaitLock(context.Background(), model)
	if err != nil {
		t.Fatalf("WaitLock after Unlock: %v", err)
	}
	again.Unlock()
}

// TestOpenRefuses: names and files Open must refuse before writing
// anything, and must leave as they were.
func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	long := filepath.Join(dir, strings.Repeat("d", 200), strings.Repeat("e", 200), strings.Repeat("f", 200)+".db")
	if err := os.MkdirAll(filepath.Dir(long), 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		root       bool
		setup      func(t *testing.T, path string)
	}{
		{name: "memory", path: ":memory:"},
		{name: "long path", path: long},
		{name: "other owner", path: filepath.Join(dir, "theirs.db"), root: true, setup: func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o666); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, 0o666); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(path, otherUID, otherUID); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "directory", path: filepath.Join(dir, "dir.db"), setup: func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root {
				needRoot(t)
			}
			if tt.setup != nil {
				tt.setup(t, tt.path)
			}
			before, _ := os.Lstat(tt.path)
			_, err := store.Open(context.Background(), tt.path)
			var refused *store.RefusedError
			if !errors.As(err, &refused) {
				t.Fatalf("Open: got %v, want a *RefusedError", err)
			}
			after, _ := os.Lstat(tt.path)
			switch {
			case before == nil && after != nil:
				t.Errorf("Open left %s behind, want nothing", tt.path)
			case before != nil && (after == nil || after.Mode() != before.Mode() || after.Size() != before.Size()):
				t.Errorf("Open changed %s: %v -> %v", tt.path, before, after)
			}
			if _, err := store.TryLock(tt.path, "collect"); tt.setup == nil && !errors.As(err, &refused) {
				t.Errorf("TryLock: got %v, want the name refused before a lock file is made", err)
			}
		})
	}
}

// TestOpenTightensOwnFile: a database of this user that others can read is
// made 0600, with a warning naming it.
func TestOpenTightensOwnFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ports.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	db, err := store.Open(context.Background(), path, store.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != 0o600 {
			t.Errorf("%s mode: got %04o, want 0600", name, got)
		}
	}
	if !strings.Contains(logs.String(), "tightened to 0600") || !strings.Contains(logs.String(), "mode=0666") {
		t.Errorf("log: got %q, want a warning with the old mode", logs.String())
	}
}
