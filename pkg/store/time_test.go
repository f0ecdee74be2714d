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
		{time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), "9999-12-31T23:59:59.999999Z"},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "10000-01-01T00:00:00.000000Z"},
		{time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), "-0001-01-01T00:00:00.000000Z"},
		{time.Date(7, 2, 3, 4, 5, 6, 7000, time.UTC), "0007-02-03T04:05:06.000007Z"},
	} {
		if got := store.FormatTime(c.in); got != c.want {
			t.Errorf("FormatTime(%v) = %q, want %q", c.in, got, c.want)
		}
		if got := string(store.AppendTime([]byte("x"), c.in)); got != "x"+c.want {
			t.Errorf("AppendTime(%v) = %q, want %q", c.in, got, "x"+c.want)
		}
		if c.in.Year() < 0 || c.in.Year() > 9999 {
			continue // RFC 3339 has no text for these years; ParseTime need not read them back
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

// FuzzAppendTime checks the direct formatter against time.AppendFormat.
func FuzzAppendTime(f *testing.F) {
	f.Add(int64(0), int64(0))
	f.Add(int64(1763719200), int64(123456789))
	f.Add(int64(-62135596800), int64(999999999))
	f.Add(int64(253402300799), int64(1))
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tm := time.Unix(sec, nsec)
		if got, want := store.FormatTime(tm), tm.UTC().Format(store.TimeLayout); got != want {
			t.Errorf("FormatTime(%d, %d) = %q, want %q", sec, nsec, got, want)
		}
	})
}

func BenchmarkFormatTime(b *testing.B) {
	tm := t0.Add(123456 * time.Microsecond)
	for i := 0; i < b.N; i++ {
		store.FormatTime(tm)
	}
}
