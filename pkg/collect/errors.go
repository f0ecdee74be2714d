package collect

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"syscall"

	"portwatch/pkg/capture"
	"portwatch/pkg/runerr"
)

// ErrInterrupted is returned when the context was cancelled mid-round; what
// was read up to then is stored and the round is marked interrupted.
var ErrInterrupted = errors.New("interrupted; the round was stored as interrupted")

// badInput marks the errors caused by what the user passed (exit code 2):
// a bad filter, a damaged, missing or non-capture file or a directory in
// its place, a database path in a directory that does not exist. (The
// store's own refusals are sorted by runerr.KindOf.)
func badInput(err error) error {
	var (
		damaged *capture.FileError
		filter  *capture.FilterError
	)
	if errors.As(err, &damaged) || errors.As(err, &filter) || errors.Is(err, capture.ErrNotCapture) ||
		errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.EISDIR) {
		return runerr.BadInput(err)
	}
	return err
}

// joinDistinct joins errs on one line, leaving out nils and repeats: a failed
// store.Writer returns its first error again from every later call.
func joinDistinct(errs ...error) error {
	var kept []error
	for _, e := range errs {
		if e != nil && !slices.ContainsFunc(kept, func(k error) bool { return errors.Is(k, e) }) {
			kept = append(kept, e)
		}
	}
	switch len(kept) {
	case 0:
		return nil
	case 1:
		return kept[0]
	}
	return joined(kept)
}

// joined is errors.Join's result printed on one line, as errors are printed.
type joined []error

func (j joined) Error() string {
	s := make([]string, len(j))
	for i, e := range j {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

func (j joined) Unwrap() []error { return j }
