package store

import (
	"fmt"
	"time"
)

// TimeLayout is how every time is stored: RFC 3339 in UTC with exactly six
// fractional digits, so values are fixed width and sort as text
// (time.RFC3339Nano trims trailing zeros and would not).
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// FormatTime formats t in UTC with TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// AppendTime appends FormatTime(t) to b.
func AppendTime(b []byte, t time.Time) []byte { return t.UTC().AppendFormat(b, TimeLayout) }

// ParseTime parses a time written by FormatTime.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(TimeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse stored time %q: %w", s, err)
	}
	return t, nil
}
