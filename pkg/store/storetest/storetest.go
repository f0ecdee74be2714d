// Package storetest makes real portwatch databases for tests: a temp file
// with the real schema, and checks that every test should end with.
package storetest

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"testing"

	"portwatch/pkg/store"
)

// New opens a new database in t.TempDir and closes it when the test ends.
// It returns the database and its path.
func New(t testing.TB) (*store.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ports.db")
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close test database: %v", err)
		}
	})
	return db, path
}

// Open opens the database a run left at path, closing it when the test ends.
func Open(t testing.TB, path string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Peek runs a query returning one integer on the database at path, read
// only and without store.Open (which would migrate it), as tests polling a
// running program need; 0 while the file or its tables do not exist yet.
func Peek(path, query string) int64 {
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		return 0
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow(query).Scan(&n); err != nil {
		return 0
	}
	return n
}

// Raw opens a database/sql connection of the test's own on db's file, as
// the sqlite3 console would, for assertions in SQL; it is closed when the
// test ends. The store itself offers no raw handle. While it is open, other
// programs' last close leaves the WAL in place (SQLite removes it only when
// the last connection closes): close it early where a test depends on that.
func Raw(t testing.TB, db *store.DB) *sql.DB {
	t.Helper()
	raw := openRaw(t, db)
	t.Cleanup(func() { raw.Close() })
	return raw
}

func openRaw(t testing.TB, db *store.DB) *sql.DB {
	t.Helper()
	u := url.URL{Path: db.Path()}
	raw, err := sql.Open("sqlite3", "file:"+u.EscapedPath()+"?_busy_timeout=5000&_foreign_keys=on")
	if err != nil {
		t.Fatalf("open %s: %v", db.Path(), err)
	}
	return raw
}

// Integrity fails the test unless PRAGMA integrity_check and
// foreign_key_check find nothing wrong.
func Integrity(t testing.TB, db *store.DB) {
	t.Helper()
	raw := openRaw(t, db)
	defer raw.Close()
	var got string
	if err := raw.QueryRow("PRAGMA integrity_check").Scan(&got); err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	if got != "ok" {
		t.Errorf("integrity_check = %q, want ok", got)
	}
	rows, err := raw.Query("PRAGMA foreign_key_check")
	if err != nil {
		t.Fatalf("foreign_key_check: %v", err)
	}
	defer rows.Close()
	if rows.Next() {
		t.Errorf("foreign_key_check found violations")
	}
}

// Int runs a query returning one integer, failing the test on error.
func Int(t testing.TB, db *store.DB, query string, args ...any) int64 {
	t.Helper()
	raw := openRaw(t, db)
	defer raw.Close()
	var n int64
	if err := raw.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// Count returns the rows in table.
func Count(t testing.TB, db *store.DB, table string) int64 {
	t.Helper()
	return Int(t, db, "SELECT count(*) FROM "+table)
}

// Foreign writes at path a SQLite file of someone else's: one table, notes,
// whose body column holds "mine", and no portwatch schema.
func Foreign(t testing.TB, path string) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes(body) VALUES ('mine')"); err != nil {
		t.Fatal(err)
	}
}
