package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrLocked means another run holds the lock.
var ErrLocked = errors.New("another run holds the lock; try again when it ends")

// Lock is a run lock beside a database: an flock on a file next to it,
// which the kernel releases when the process dies, even by kill -9.
type Lock struct {
	f *os.File
}

// LockPath returns the lock file of program's runs on the database at
// dbPath: "<db>.<program>.lock", or "<db>.lock" without a program.
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
func TryLock(dbPath string, program ...string) (*Lock, error) {
	path := LockPath(dbPath, program...)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
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

// Unlock releases the lock. The file stays: removing it would let a third
// run lock a new file while a second still holds the old one.
func (l *Lock) Unlock() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("unlock %s: %w", l.f.Name(), err)
	}
	return nil
}
