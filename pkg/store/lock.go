package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrLocked means another run holds the database's lock.
var ErrLocked = errors.New("another run holds the lock; try again when it ends")

// Lock is the run lock of one database: an flock on "<db>.lock" beside it,
// which the kernel releases when the process dies, even by kill -9.
type Lock struct {
	f *os.File
}

// LockPath returns the lock file's name for the database at dbPath.
func LockPath(dbPath string) string { return dbPath + ".lock" }

// TryLock takes the run lock of the database at dbPath without waiting.
// It returns an error wrapping ErrLocked when another run holds it.
func TryLock(dbPath string) (*Lock, error) {
	path := LockPath(dbPath)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("database %s: %w", dbPath, ErrLocked)
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
