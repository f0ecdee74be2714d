package store

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBoxesKeepValues checks the cached boxes hold the value asked for:
// the same bytes again, equal text in other bytes, other text in the slot
// of earlier text, and numbers outside the cached range.
func TestBoxesKeepValues(t *testing.T) {
	var strs stringBoxes
	a := "10.0.0.1"
	b := strings.Clone(a)
	long := strings.Repeat("x", 64)
	for i, s := range []string{a, a, b, long[:8], long[1:9], long, "", a[:4]} {
		got := strs.box(s)
		if s == "" {
			if got != nil {
				t.Errorf("%d: box(%q) = %#v, want nil", i, s, got)
			}
			continue
		}
		if got != any(s) {
			t.Errorf("%d: box(%q) = %#v", i, s, got)
		}
	}
	ints := new(intBoxes)
	for _, v := range []int{0, 255, 256, 65535, 65536, 1 << 20, -1} {
		for range 2 {
			if got := ints.box(v); got != any(int64(v)) {
				t.Errorf("box(%d) = %#v, want int64(%d)", v, got, v)
			}
		}
	}
}

// TestSecondFormatMatchesAppendTime formats times in the same second, the
// next, an earlier one, other zones and years as AppendTime does.
func TestSecondFormatMatchesAppendTime(t *testing.T) {
	base := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	var f secondFormat
	for _, tm := range []time.Time{
		time.Unix(0, 0), // second 0: a zero secondFormat has formatted nothing yet
		base, base.Add(123456789), base.Add(999999999), base.Add(time.Second), base.Add(-time.Hour),
		base.In(time.FixedZone("CET", 3600)), time.Unix(-1, 500000000),
		time.Date(10000, 1, 1, 0, 0, 0, 7000, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got, want := string(f.append([]byte("x"), tm)), string(AppendTime([]byte("x"), tm)); got != want {
			t.Errorf("secondFormat(%v) = %q, want %q", tm, got, want)
		}
	}
}

// TestWriterHandsBackItsConnection checks the connections a Writer took
// (its own and its checkpointer's) go back to the pool as a new one is:
// foreign keys on, SQLite's own checkpoint threshold.
func TestWriterHandsBackItsConnection(t *testing.T) {
	ctx := t.Context()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "ports.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	settings := func(c *sql.Conn) (fk, pages int64) {
		t.Helper()
		if err := c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&pages); err != nil {
			t.Fatal(err)
		}
		return fk, pages
	}
	fresh, err := d.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantFK, wantPages := settings(fresh)
	// The connection Open migrated on, with foreign keys and (the file
	// being new) fsyncs off for a while.
	var sync int64
	if err := fresh.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if wantFK != 1 || sync != 1 {
		t.Errorf("after Open: foreign_keys %d, synchronous %d; want 1, 1 (NORMAL)", wantFK, sync)
	}
	w, err := d.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.StartRound(time.Now(), "live"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The pool holds at most the Writer's two; the third is new.
	for i := range 3 {
		c, err := d.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if fk, pages := settings(c); fk != wantFK || pages != wantPages {
			t.Errorf("connection %d: foreign_keys %d, wal_autocheckpoint %d; want %d, %d", i, fk, pages, wantFK, wantPages)
		}
	}
	fresh.Close()
}

// TestNarrowInsertFits checks a narrow INSERT takes only rows whose left
// out columns are all NULL.
func TestNarrowInsertFits(t *testing.T) {
	n := narrowInsert{keep: []int{0, 2}, omit: []int{1}} // leaves column 1 out
	for _, c := range []struct {
		rows [][3]any
		want bool
	}{
		{[][3]any{{int64(1), nil, "a"}, {int64(2), nil, nil}}, true},
		{[][3]any{{int64(1), nil, "a"}, {int64(2), "x", "b"}}, false},
		{[][3]any{{int64(1), []byte{}, "a"}}, false}, // an empty payload is not NULL
	} {
		args := insertArgs(len(c.rows), 3, len(c.rows))
		for i, r := range c.rows {
			for j, v := range r {
				args[i*3+j].Value = v
			}
		}
		if got := n.fits(args, 3); got != c.want {
			t.Errorf("fits(%v) = %v, want %v", c.rows, got, c.want)
		}
	}
}
