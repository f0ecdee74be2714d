package collect

import (
	"portwatch/pkg/capture"
	"portwatch/pkg/store"
)

func countsOf(s capture.Stats) store.Counts {
	return store.Counts{Frames: s.Frames, Malformed: s.Malformed, Skipped: s.Skipped, Dropped: s.Dropped}
}
