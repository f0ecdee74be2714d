package store_test

import (
	"sort"
	"testing"
	"time"

	"portwatch/pkg/store"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func TestFormatTime(t *testing.T) {
	for _, c := range []struct {
		in   time.Time
		want string
	}{
		{t0, "2026-11-21T10:00:00.000000Z"},
		{t0.Add(123456789 * time.Nanosecond), "2026-11-21T10:00:00.123456Z"},
		{t0.Add(100 * time.Millisecond), "2026-11-21T10:00:00.100000Z"},
		{time.Date(2026, 11, 21, 11, 0, 0, 5000, time.FixedZone("CET", 3600)), "2026-11-21T10:00:00.000005Z"},
		{time.Unix(0, 0), "1970-01-01T00:00:00.000000Z"},
	} {
		if got := store.FormatTime(c.in); got != c.want {
			t.Errorf("FormatTime(%v) = %q, want %q", c.in, got, c.want)
		}
		if got := string(store.AppendTime([]byte("x"), c.in)); got != "x"+c.want {
			t.Errorf("AppendTime(%v) = %q, want %q", c.in, got, "x"+c.want)
		}
		back, err := store.ParseTime(c.want)
		if err != nil {
			t.Fatal(err)
		}
		if !back.Equal(c.in.Truncate(time.Microsecond)) {
			t.Errorf("ParseTime(%q) = %v, want %v", c.want, back, c.in.Truncate(time.Microsecond))
		}
	}
}

func TestFormatTimeSortsAsText(t *testing.T) {
	times := []time.Time{t0.Add(time.Second), t0, t0.Add(10 * time.Millisecond), t0.Add(time.Microsecond), t0.Add(-time.Hour)}
	text := make([]string, len(times))
	for i, tm := range times {
		text[i] = store.FormatTime(tm)
	}
	sort.Strings(text)
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	for i := range times {
		if got, want := text[i], store.FormatTime(times[i]); got != want {
			t.Errorf("text order[%d] = %s, want %s", i, got, want)
		}
	}
}

func TestParseTimeRejects(t *testing.T) {
	for _, s := range []string{"", "2026-11-21", "2026-11-21T10:00:00Z", "yesterday"} {
		if _, err := store.ParseTime(s); err == nil {
			t.Errorf("ParseTime(%q) succeeded, want an error", s)
		}
	}
}
