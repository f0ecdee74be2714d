// Package runerr sorts the error a program's run ends with into the kinds
// its exit code tells apart: bad input (usage, a file that is not what it
// should be), locked (another run holds the database), or failed (anything
// else: I/O, database, capture, model). Run functions in pkg/collect,
// pkg/cleanup and pkg/detectjob mark bad input with BadInput; pkg/command maps
// the kinds to exit codes. It knows nothing of flags or the command line.
package runerr

import (
	"errors"
	"fmt"

	"portwatch/pkg/store"
)

// BadInputError marks an error caused by what the user passed.
type BadInputError struct{ Err error }

func (e *BadInputError) Error() string { return e.Err.Error() }
func (e *BadInputError) Unwrap() error { return e.Err }

// BadInput marks err as bad input; nil stays nil.
func BadInput(err error) error {
	if err == nil {
		return nil
	}
	return &BadInputError{Err: err}
}

// BadInputf makes a BadInputError.
func BadInputf(format string, args ...any) error {
	return &BadInputError{Err: fmt.Errorf(format, args...)}
}

// Kind is what an error means for the run.
type Kind int

// The kinds, in the order of their exit codes.
const (
	OK Kind = iota
	Failed
	Bad
	Locked
)

// KindOf says what err means: store.ErrLocked anywhere in its chain is
// Locked; a BadInputError, and the store's errors for a database file that
// is not one portwatch can use (refused, foreign, not SQLite, too new), are
// Bad, so the three programs agree on them.
func KindOf(err error) Kind {
	var (
		bad     *BadInputError
		refused *store.RefusedError
		version *store.VersionError
	)
	switch {
	case err == nil:
		return OK
	case errors.Is(err, store.ErrLocked):
		return Locked
	case errors.As(err, &bad), errors.As(err, &refused), errors.As(err, &version),
		errors.Is(err, store.ErrForeign), errors.Is(err, store.ErrNotSQLite):
		return Bad
	}
	return Failed
}
