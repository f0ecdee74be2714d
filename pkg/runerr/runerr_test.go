package runerr

import (
	"errors"
	"fmt"
	"testing"

	"portwatch/pkg/store"
)

func TestKindOf(t *testing.T) {
	tests := []struct {
		err  error
		want Kind
	}{
		{nil, OK},
		{errors.New("disk full"), Failed},
		{BadInputf("keep %q: bad", "x"), Bad},
		{fmt.Errorf("cleanup: %w", BadInput(errors.New("bad"))), Bad},
		{fmt.Errorf("open: %w", &store.RefusedError{Path: "x.db", Reason: "owned by uid 4242"}), Bad},
		{fmt.Errorf("open database x.db: %w", store.ErrForeign), Bad},
		{fmt.Errorf("open database x.db: %w: %w", store.ErrNotSQLite, errors.New("file is not a database")), Bad},
		{&store.VersionError{Path: "x.db", Found: 9, Wanted: 3}, Bad},
		{fmt.Errorf("collect: %w", store.ErrLocked), Locked},
		// A lock error marked as bad input is still a lock: it says more.
		{BadInput(store.ErrLocked), Locked},
	}
	for _, tt := range tests {
		if got := KindOf(tt.err); got != tt.want {
			t.Errorf("KindOf(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
	if BadInput(nil) != nil {
		t.Errorf("BadInput(nil) is not nil")
	}
}
