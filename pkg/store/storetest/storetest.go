// Package storetest makes real portwatch databases for tests: a temp file
// with the real schema, and checks that every test should end with.
package storetest

import (
	"context"
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

// Integrity fails the test unless PRAGMA integrity_check and
// foreign_key_check find nothing wrong.
func Integrity(t testing.TB, db *store.DB) {
	t.Helper()
	var got string
	if err := db.SQL().QueryRow("PRAGMA integrity_check").Scan(&got); err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	if got != "ok" {
		t.Errorf("integrity_check = %q, want ok", got)
	}
	rows, err := db.SQL().Query("PRAGMA foreign_key_check")
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
	var n int64
	if err := db.SQL().QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
