package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"portwatch/pkg/store"
	"portwatch/pkg/store/storetest"
)

func TestOpenCreatesSchema(t *testing.T) {
	db, path := storetest.New(t)
	for _, c := range []struct {
		query string
		want  int64
	}{
		{"PRAGMA user_version", store.SchemaVersion},
		{"PRAGMA foreign_keys", 1},
		{"PRAGMA auto_vacuum", 2}, // incremental: cleanup shrinks the file in small steps
		{"SELECT count(*) FROM ports", 65536},
		{"SELECT count(*) FROM ports WHERE id = value", 65536},
		{"SELECT max(value) FROM ports", 65535},
		{"SELECT count(*) FROM sqlite_schema WHERE type = 'view' AND name = 'latest_listeners'", 1},
	} {
		if got := storetest.Int(t, db, c.query); got != c.want {
			t.Errorf("%s = %d, want %d", c.query, got, c.want)
		}
	}
	var mode string
	if err := storetest.Raw(t, db).QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("mode of %s = %o, want 600", filepath.Base(f), got)
		}
	}
	storetest.Integrity(t, db)
}

func TestReopenKeepsData(t *testing.T) {
	db, path := storetest.New(t)
	w, err := db.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.StartRound(t0, "live"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer again.Close()
	if got := storetest.Int(t, again, "SELECT count(*) FROM rounds"); got != 1 {
		t.Errorf("rounds after reopen = %d, want 1", got)
	}
	if got := storetest.Int(t, again, "SELECT count(*) FROM ports"); got != 65536 {
		t.Errorf("ports after reopen = %d, want 65536", got)
	}
}

func TestOpenPathNeedsEscaping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "my ports?#%.db")
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not created under its exact name: %v", err)
	}
}

// sqliteFile makes a SQLite file outside the store, as another program would.
func sqliteFile(t *testing.T, stmts string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmts); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenRejectsBadFiles(t *testing.T) {
	for _, c := range []struct {
		name     string
		path     func(t *testing.T) string
		wantText string
	}{
		{"text file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "notes.txt")
			if err := os.WriteFile(p, []byte(strings.Repeat("not a database\n", 100)), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, "not a SQLite database"},
		{"foreign database", func(t *testing.T) string {
			return sqliteFile(t, "CREATE TABLE mine (x); INSERT INTO mine VALUES (1)")
		}, "not a portwatch database"},
		{"newer schema", func(t *testing.T) string {
			return sqliteFile(t, "PRAGMA user_version = 99")
		}, "schema version 99, newer"},
		{"missing directory", func(t *testing.T) string {
			return filepath.Join(t.TempDir(), "no", "such", "dir.db")
		}, "create database"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := c.path(t)
			before, _ := os.ReadFile(path)
			db, err := store.Open(context.Background(), path)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%s) succeeded, want an error", c.name)
			}
			if got := err.Error(); !strings.Contains(got, c.wantText) || !strings.Contains(got, path) {
				t.Errorf("error = %q, want it to name %s and say %q", got, path, c.wantText)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines", err)
			}
			after, _ := os.ReadFile(path)
			if string(before) != string(after) {
				t.Errorf("Open changed the rejected file")
			}
		})
	}
}

func TestOpenNewerSchemaIsTyped(t *testing.T) {
	path := sqliteFile(t, fmt.Sprintf("PRAGMA user_version = %d", store.SchemaVersion+1))
	_, err := store.Open(context.Background(), path)
	var ve *store.VersionError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *VersionError", err)
	}
	if ve.Found != store.SchemaVersion+1 || ve.Wanted != store.SchemaVersion {
		t.Errorf("VersionError = %+v, want Found %d, Wanted %d", ve, store.SchemaVersion+1, store.SchemaVersion)
	}
}

func TestOpenReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores file permissions, so a read-only database cannot be made here")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	_, err := store.Open(context.Background(), filepath.Join(dir, "ports.db"))
	if err == nil {
		t.Fatal("Open in a read-only directory succeeded, want an error")
	}
}

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ports.db")
	for _, c := range []struct {
		program  []string
		lockFile string
	}{
		{nil, "ports.db.lock"},
		{[]string{"collect"}, "ports.db.collect.lock"},
		{[]string{"cleanup"}, "ports.db.cleanup.lock"},
	} {
		first, err := store.TryLock(path, c.program...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.TryLock(path, c.program...); !errors.Is(err, store.ErrLocked) {
			t.Fatalf("second TryLock%v error = %v, want ErrLocked", c.program, err)
		}
		fi, err := os.Stat(filepath.Join(filepath.Dir(path), c.lockFile))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("lock file %s mode = %o, want 600", c.lockFile, got)
		}
		if err := first.Unlock(); err != nil {
			t.Fatal(err)
		}
		// again stays held, so the next programs lock beside it: programs
		// do not exclude each other.
		again, err := store.TryLock(path, c.program...)
		if err != nil {
			t.Fatalf("TryLock%v after Unlock: %v", c.program, err)
		}
		defer again.Unlock()
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("TryLock touched the database file (stat error %v)", err)
	}
}

// TestMigrateFromV1 opens a file made with the first shipped schema
// (testdata/schema_v1.sql, as committed) and checks it is migrated in place.
func TestMigrateFromV1(t *testing.T) {
	v1, err := os.ReadFile("testdata/schema_v1.sql")
	if err != nil {
		t.Fatal(err)
	}
	path := sqliteFile(t, string(v1)+`
INSERT INTO ports (id, value) VALUES (0, 0), (53, 53);
INSERT INTO rounds (id, start_time, status, source) VALUES (1, '2026-11-21T10:00:00.000000Z', 'complete', 'live');
INSERT INTO packets (round_id, frame, timestamp, protocols, port_id, dest_port, length) VALUES (1, 1, '2026-11-21T10:00:00.000000Z', 'eth:ipv4:udp:dns', 53, 53, 60);
PRAGMA user_version = 1;`)
	db := openMigrated(t, path, "v1")
	checkInts(t, db, []intCheck{
		{"PRAGMA user_version", store.SchemaVersion},
		{"SELECT count(*) FROM packets WHERE dest_port = 53", 1},
		{"SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'packets_round'", 1},
		{"SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name IN ('packets_round_port', 'packets_dest_port')", 0},
	})
	checkMigrated(t, db)
}

// intCheck is a query returning one integer and the integer it should.
type intCheck struct {
	query string
	want  int64
}

func checkInts(t *testing.T, db *store.DB, checks []intCheck) {
	t.Helper()
	for _, c := range checks {
		if got := storetest.Int(t, db, c.query); got != c.want {
			t.Errorf("%s = %d, want %d", c.query, got, c.want)
		}
	}
}

// openMigrated opens the file at path, of an older schema (version, for
// the message), which Open migrates, and closes it when the test ends.
func openMigrated(t *testing.T, path, version string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open %s database: %v", version, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// checkMigrated checks a migrated database has a new file's schema and is intact.
func checkMigrated(t *testing.T, db *store.DB) {
	t.Helper()
	fresh, _ := storetest.New(t)
	if got, want := schemaText(t, db), schemaText(t, fresh); got != want {
		t.Errorf("migrated schema differs from a new file's:\n%s\nwant\n%s", got, want)
	}
	storetest.Integrity(t, db)
}

// schemaText lists a database's tables, indexes and views, whitespace folded.
func schemaText(t *testing.T, db *store.DB) string {
	t.Helper()
	rows, err := storetest.Raw(t, db).Query("SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY type, name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var typ, name, text string
		if err := rows.Scan(&typ, &name, &text); err != nil {
			t.Fatal(err)
		}
		b.WriteString(typ + " " + name + ": " + strings.Join(strings.Fields(text), " ") + "\n")
	}
	return b.String()
}

// TestMigrateFromV3 opens a database of the previous version (testdata/schema_v3.sql, as main
// shipped it) holding a round's sockets, and checks the v4 rebuild of rounds_ports: old rows keep
// their ids and values and get the host mark with netns 0 (not told), and the same port may now be
// stored once per namespace.
func TestMigrateFromV3(t *testing.T) {
	v3, err := os.ReadFile("testdata/schema_v3.sql")
	if err != nil {
		t.Fatal(err)
	}
	path := sqliteFile(t, string(v3)+`
INSERT INTO ports (id, value) VALUES (22, 22), (53, 53);
INSERT INTO rounds (id, start_time, end_time, status, source, scans) VALUES
  (1, '2026-11-21T10:00:00.000000Z', '2026-11-21T10:01:00.000000Z', 'complete', 'live', 1);
INSERT INTO rounds_ports (id, round_id, port_id, timestamp, protocol, family, address, state, pid, process) VALUES
  (7, 1, 22, '2026-11-21T10:00:00.000000Z', 'tcp', 4, '0.0.0.0', 'listen', 10, 'sshd'),
  (8, 1, 53, '2026-11-21T10:00:00.000000Z', 'udp', 4, '127.0.0.53', 'unconn', NULL, NULL);
PRAGMA user_version = 3;`)
	db := openMigrated(t, path, "v3")
	raw := storetest.Raw(t, db)
	if _, err := raw.Exec(`INSERT INTO rounds_ports (round_id, port_id, timestamp, protocol, family, address, state, netns, netns_host, netns_name)
		VALUES (1, 22, '2026-11-21T10:00:00.000000Z', 'tcp', 4, '0.0.0.0', 'listen', 4026532999, 0, 'docker:0123abcd')`); err != nil {
		t.Fatalf("store the same port in a second namespace: %v", err)
	}
	checkInts(t, db, []intCheck{
		{"PRAGMA user_version", store.SchemaVersion},
		{"SELECT count(*) FROM rounds_ports WHERE id IN (7, 8) AND netns = 0 AND netns_host = 1 AND netns_name IS NULL", 2},
		{"SELECT count(*) FROM rounds_ports WHERE id = 7 AND pid = 10 AND process = 'sshd' AND state = 'listen'", 1},
		{"SELECT count(*) FROM rounds_ports WHERE port_id = 22", 2},
		{"SELECT count(*) FROM sqlite_schema WHERE name = 'rounds_ports_v3'", 0},
		{"SELECT count(*) FROM latest_listeners WHERE port = 22 AND container = 'host'", 1},
	})
	checkMigrated(t, db)
}

// TestMigrateFromV5 opens a database of schema v5 (testdata/schema_v5.sql, as main shipped it) with
// a capture round's traffic summary, and checks the columns of v7 to v9 (spelled in schema.sql as
// ALTER TABLE leaves them, a new file creating them at once) are added with their defaults.
func TestMigrateFromV5(t *testing.T) {
	v5, err := os.ReadFile("testdata/schema_v5.sql")
	if err != nil {
		t.Fatal(err)
	}
	path := sqliteFile(t, string(v5)+`
INSERT INTO rounds (id, start_time, end_time, status, source, local_from, local_addrs) VALUES
  (1, '2026-11-21T10:00:00.000000Z', '2026-11-21T10:01:00.000000Z', 'complete', 'pcap:a.pcap', 'inferred', '10.0.0.2');
INSERT INTO traffic_rounds (round_id, packets, ip_packets, overflow, sources, icmp_unreachable, dns_queries, dns_responses,
  dns_names, dns_max_label, dns_mean_label, dns_entropy, dns_max_entropy, dns_txt_null_share, dns_nxdomain_share) VALUES
  (1, 10, 9, 0, 2, 0, 1, 1, 1, 7, 7, 2.5, 2.5, 0, 0);
INSERT INTO traffic_sources (round_id, address, local_ports, local_hosts, packets, syns) VALUES (1, '10.0.0.9', 3, 1, 4, 3);
PRAGMA user_version = 5;`)
	db := openMigrated(t, path, "v5")
	checkInts(t, db, []intCheck{
		{"PRAGMA user_version", store.SchemaVersion},
		{"SELECT count(*) FROM traffic_rounds WHERE packets = 10 AND syn_sources = 0 AND spread_source = '' AND backdoor_peers = 0 AND dns_nx_name = ''", 1},
		{"SELECT count(*) FROM traffic_sources WHERE local_ports = 3 AND probed_ports = 0 AND attempts = 0 AND attempt_host = '' AND local = 0", 1},
		{"SELECT count(*) FROM sqlite_schema WHERE name IN ('incidents', 'accepted')", 2},
	})
	checkMigrated(t, db)
}

// TestMigrateFromV10 opens a database of schema v10 (testdata/schema_v10.sql, as main shipped it, with
// every port seeded) holding a round's socket and packet, and checks the v11 rebuild of ports: its rows
// kept, its UNIQUE index gone, the CHECK in force, and the other tables' references on the new table.
func TestMigrateFromV10(t *testing.T) {
	v10, err := os.ReadFile("testdata/schema_v10.sql")
	if err != nil {
		t.Fatal(err)
	}
	path := sqliteFile(t, string(v10)+`
WITH RECURSIVE n(v) AS (VALUES (0) UNION ALL SELECT v + 1 FROM n WHERE v < 65535)
INSERT INTO ports (id, value) SELECT v, v FROM n;
INSERT INTO rounds (id, start_time, end_time, status, source) VALUES
  (1, '2026-11-21T10:00:00.000000Z', '2026-11-21T10:01:00.000000Z', 'complete', 'live');
INSERT INTO rounds_ports (id, round_id, port_id, timestamp, protocol, family, address, state) VALUES
  (7, 1, 22, '2026-11-21T10:00:00.000000Z', 'tcp', 4, '0.0.0.0', 'listen');
INSERT INTO packets (id, round_id, frame, timestamp, protocols, port_id, dest_port, length) VALUES
  (9, 1, 1, '2026-11-21T10:00:00.000000Z', 'eth:ipv4:udp:dns', 53, 5353, 60);
PRAGMA user_version = 10;`)
	db := openMigrated(t, path, "v10")
	checkInts(t, db, []intCheck{
		{"PRAGMA user_version", store.SchemaVersion},
		{"SELECT count(*) FROM ports WHERE id = value", 65536},
		{"SELECT count(*) FROM sqlite_schema WHERE tbl_name = 'ports' AND type = 'index'", 0},
		{"SELECT count(*) FROM sqlite_schema WHERE name = 'ports_v10'", 0},
		{"SELECT count(*) FROM rounds_ports JOIN ports ON ports.id = port_id WHERE rounds_ports.id = 7 AND value = 22", 1},
		{"SELECT count(*) FROM packets JOIN ports ON ports.id = port_id WHERE packets.id = 9 AND value = 53", 1},
	})
	checkMigrated(t, db)
	raw := storetest.Raw(t, db)
	for _, c := range []struct{ stmt, want string }{
		{"INSERT INTO ports (id, value) VALUES (65536, 1)", "CHECK constraint failed"},
		{"UPDATE ports SET value = 1 WHERE id = 2", "CHECK constraint failed"},
		{"DELETE FROM ports WHERE id = 53", "FOREIGN KEY constraint failed"}, // packet 9's source port
	} {
		if _, err := raw.Exec(c.stmt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.stmt, err, c.want)
		}
	}
}

// TestMigrateRefusesBrokenReferences: migrations run with foreign keys off,
// so a file whose rows reference rows that are gone (written by a program
// without them) is refused before the commit and left at its version.
func TestMigrateRefusesBrokenReferences(t *testing.T) {
	v10, err := os.ReadFile("testdata/schema_v10.sql")
	if err != nil {
		t.Fatal(err)
	}
	path := sqliteFile(t, string(v10)+`
INSERT INTO ports (id, value) VALUES (22, 22);
INSERT INTO rounds_ports (id, round_id, port_id, timestamp, protocol, family, address, state) VALUES
  (7, 2, 22, '2026-11-21T10:00:00.000000Z', 'tcp', 4, '0.0.0.0', 'listen');
PRAGMA user_version = 10;`)
	db, err := store.Open(context.Background(), path)
	if err == nil {
		db.Close()
		t.Fatal("open a v10 file with a round_id of no round: no error")
	}
	if !strings.Contains(err.Error(), "reference rows that are gone") {
		t.Errorf("error %q, want it to say rows reference rows that are gone", err)
	}
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var v int
	if err := raw.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != 10 {
		t.Errorf("user_version after the refusal: %d (%v), want 10", v, err)
	}
}

// BenchmarkOpenNew measures what a first run pays before its first write:
// creating a new file with the schema and the 65,536 ports.
func BenchmarkOpenNew(b *testing.B) {
	dir := b.TempDir()
	for i := 0; b.Loop(); i++ {
		db, err := store.Open(b.Context(), filepath.Join(dir, fmt.Sprintf("ports%d.db", i)))
		if err != nil {
			b.Fatal(err)
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
