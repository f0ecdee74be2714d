package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrLocked means another run holds the lock.
var ErrLocked = errors.New("another run holds the lock; try again when it ends")

// Lock is a run lock beside a database or model: an flock on a file next to
// it, which the kernel releases when the process dies, even by kill -9.
type Lock struct {
	f *os.File
}

// LockPath returns the lock file of program's runs on the database at
// dbPath: "<db>.<program>.lock", or "<db>.lock" without a program. dbPath
// is taken as given; TryLock resolves symbolic links first.
func LockPath(dbPath string, program ...string) string {
	if len(program) > 0 && program[0] != "" {
		return dbPath + "." + program[0] + ".lock"
	}
	return dbPath + ".lock"
}

// TryLock takes, without waiting, the lock of program's runs on the database
// at dbPath: one run of each program at a time, while different programs
// (cron's collect every minute, detect every hour) overlap and share the
// database through SQLite's own locking. Without a program it is the lock
// of the callers that pass none. It returns an error wrapping ErrLocked when
// another run holds the lock, and touches only the lock file.
//
// The lock is keyed on the database's real path, so a run through a
// symbolic link and one through its target exclude each other. A lock file
// that is a symbolic link, not a regular file, or owned by another non-root
// user is refused (*RefusedError): it may have been planted to make this
// run create or lock a file of someone else's choosing.
func TryLock(dbPath string, program ...string) (*Lock, error) {
	if err := checkName(dbPath); err != nil {
		return nil, err // before the lock file, so a refused name leaves nothing
	}
	real, err := realPath(dbPath)
	if err != nil {
		return nil, err
	}
	path := LockPath(real, program...)
	f, err := openLock(path)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("database %s (lock %s): %w", dbPath, path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// WaitLock takes the lock "<real path>.lock" of the file at path, waiting
// while another process holds it, until ctx ends. detect holds its model's
// lock from load to save, so two databases sharing one model refit it in
// turn instead of one save overwriting the other's refit.
func WaitLock(ctx context.Context, path string) (*Lock, error) {
	real, err := realPath(path)
	if err != nil {
		return nil, err
	}
	lockPath := LockPath(real)
	f, err := openLock(lockPath)
	if err != nil {
		return nil, err
	}
	// flock has no timeout and restarts after signals; wait for it on a
	// goroutine so a cancelled run can still leave.
	done := make(chan error, 1)
	go func() { done <- syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }()
	select {
	case err := <-done:
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", lockPath, err)
		}
		return &Lock{f: f}, nil
	case <-ctx.Done():
		go func() { <-done; f.Close() }()
		return nil, fmt.Errorf("wait for lock %s: %w", lockPath, ctx.Err())
	}
}

// openLock opens or creates the lock file at path without following a
// symbolic link, and checks that it is a regular file this user or root owns.
func openLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return nil, &RefusedError{Path: path, Reason: "lock file is a symbolic link; remove it (it may have been planted)"}
	}
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := checkOwned(f, path, "lock file"); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Unlock releases the lock. The file stays: removing it would let a third
// run lock a new file while a second still holds the old one.
func (l *Lock) Unlock() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("unlock %s: %w", l.f.Name(), err)
	}
	return nil
}
