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
func FormatTime(t time.Time) string {
	var buf [len(TimeLayout)]byte
	return string(AppendTime(buf[:0], t))
}

// AppendTime appends FormatTime(t) to b. Ingest formats a time per packet,
// so years 0..9999 take a direct path, several times faster than
// time.AppendFormat's layout interpreter; other years use it.
func AppendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, TimeLayout)
	}
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// secondFormat appends times as AppendTime does, keeping the date and time
// of day of the last second it formatted: a capture has many packets a
// second, and working the calendar out was most of AppendTime's cost.
type secondFormat struct {
	sec    int64
	prefix []byte // AppendTime of sec without the fraction: "2006-01-02T15:04:05."
}

func (f *secondFormat) append(b []byte, t time.Time) []byte {
	if sec := t.Unix(); sec != f.sec || f.prefix == nil {
		full := AppendTime(f.prefix[:0], t)
		f.sec, f.prefix = sec, full[:len(full)-len("000000Z")]
	}
	b = append(b, f.prefix...)
	b = appendDigits(b, t.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// appendDigits appends v, 0 <= v < 10^width, as exactly width decimal digits.
func appendDigits(b []byte, v, width int) []byte {
	b = append(b, "000000"[:width]...)
	for i := len(b) - 1; i >= len(b)-width; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// ParseTime parses a time written by FormatTime.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(TimeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse stored time %q: %w", s, err)
	}
	return t, nil
}
