// Package sql holds the SQL that ships inside the binaries: the schema the
// store creates and migrates to, and the views for the sqlite3 console.
package sql

import _ "embed"

//go:embed schema.sql
var schema string

//go:embed views.sql
var views string

// Schema returns the statements that create the current schema version.
func Schema() string { return schema }

// Views returns the statements that (re)create the console views.
func Views() string { return views }
