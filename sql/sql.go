// Package sql holds the SQL that ships inside the binaries: the schema the
// store creates and migrates to, and the views for the sqlite3 console.
package sql

import (
	_ "embed"
	"strings"
)

//go:embed schema.sql
var schema string

//go:embed views.sql
var views string

// Schema returns the statements that create the current schema version.
func Schema() string { return schema }

// Views returns the statements that (re)create the console views.
func Views() string { return views }

// Section returns the statements between schema.sql's "-- section NAME" and
// "-- end NAME" lines: the tables a migration adds, spelled once.
func Section(name string) string {
	_, rest, ok := strings.Cut(schema, "-- section "+name+"\n")
	body, _, ended := strings.Cut(rest, "-- end "+name+"\n")
	if !ok || !ended {
		panic("sql: no section " + name + " in schema.sql") // a build-time mistake: tests hit it
	}
	return body
}
