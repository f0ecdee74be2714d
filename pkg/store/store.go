// Package store is portwatch's SQLite database: it creates and migrates the
// schema (sql/schema.sql, versioned by PRAGMA user_version), takes the
// per-program run locks, and writes collection rounds, port occupancy and
// packets in batched transactions.
//
// A run that writes does, in order:
//
//	lock, err := store.TryLock(path, "collect") // first; errors.Is(err, store.ErrLocked) if another collect holds it
//	defer lock.Unlock()
//	db, err := store.Open(ctx, path)  // creates the file (mode 0600), migrates, seeds ports 0..65535, recreates the views
//	defer db.Close()
//	n, err := db.MarkInterrupted(ctx) // rounds a killed run left "running"
//	w, err := db.NewWriter()          // one write transaction at a time, committed by w.Commit
//	id, err := w.StartRound(start, "live")
//	err = w.AddScan(id, at, socks)    // once per occupancy scan, []sock.Socket
//	err = w.AddPacket(id, &pkt)       // once per frame (*packet.Packet), batched into multi-row INSERTs
//	err = w.AddTraffic(id, summary)   // a round with a capture: its *traffic.Summary, once, before EndRound
//	err = w.EndRound(id, end, store.Complete, counts)
//	err = w.Commit()                  // a durable point; the write lock is held from the first write until here
//	err = w.CommitAsync()             // or one on the Writer's goroutine, which begins the next transaction
//	err = w.Close()                   // commits what is pending
//
// A capture file's ingest is tracked with OpenCapture (by content identity),
// CaptureProgress (in the transaction of each packet commit) and ResumeRound.
//
// It is the only package that speaks SQL: detection reads rounds through
// typed queries (Rounds, Count, Newest, LastScored) and
// records its runs with RecordBatch, its incidents with SaveIncidents and the
// owner's accepted causes with AddAccept; cleanup deletes through a Pruner.
// There is no raw handle; tests that assert in SQL open their own
// connection on the file (storetest.Raw), as the sqlite3 console does.
// Sockets and packets are the shared records of pkg/sock and pkg/packet.
// Every time column holds FormatTime's fixed-width text, so times sort and
// compare as text.
//
// The database runs in WAL mode with synchronous=NORMAL (a power cut may lose
// the last commits, never consistency), a busy timeout and foreign keys on
// (the Writer's own connection checks its references itself; see NewWriter).
// A Writer's commits are checkpointed by a connection of its own while it
// writes on (see checkpointer).
// Open refuses, without changing them, files that are not SQLite, SQLite
// files with other tables (ErrForeign) and newer schema versions
// (*VersionError).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/mattn/go-sqlite3"

	schema "portwatch/sql"
)

// SchemaVersion is the PRAGMA user_version this code creates and expects.
const SchemaVersion = 11

// migration returns the statements that take a database from user_version
// v to a later version next; a new file (v 0) gets the current schema at
// once, with no ALTER TABLE (each one re-parses the whole schema: 18 of them
// were three quarters of the schema's CPU). Add a case to change the schema, the
// same change to sql/schema.sql (a column added as ALTER TABLE ADD COLUMN
// stores it: after the table's last column), and a file of the old version to
// the migration tests; never change what a shipped case leaves.
func migration(v int) (stmts string, next int, err error) {
	switch v {
	case 0:
		return schema.Schema() + seedPorts(), SchemaVersion, nil
	case 1:
		return `DROP INDEX packets_round; DROP INDEX packets_dest_port;
			CREATE INDEX packets_round_port ON packets (round_id, dest_port);`, 2, nil
	case 2:
		return `ALTER TABLE rounds ADD COLUMN frames_bad_time INTEGER NOT NULL DEFAULT 0;`, 3, nil
	case 3:
		return netnsV4, 4, nil
	case 4:
		// schema.sql's v5 tables have the columns of v7 to v9 already.
		return `ALTER TABLE rounds ADD COLUMN local_from TEXT; ALTER TABLE rounds ADD COLUMN local_addrs TEXT;` +
			schema.Section("v5") + schema.Section("v6"), 9, nil
	case 5:
		return schema.Section("v6"), 6, nil
	case 6:
		return `ALTER TABLE traffic_sources ADD COLUMN probed_ports INTEGER NOT NULL DEFAULT 0;
			ALTER TABLE traffic_sources ADD COLUMN probed_hosts INTEGER NOT NULL DEFAULT 0;`, 7, nil
	case 7:
		return `ALTER TABLE traffic_rounds ADD COLUMN syn_sources INTEGER NOT NULL DEFAULT 0;
			ALTER TABLE traffic_rounds ADD COLUMN reflect_port INTEGER NOT NULL DEFAULT 0;
			ALTER TABLE traffic_rounds ADD COLUMN reflect_sources INTEGER NOT NULL DEFAULT 0;
			ALTER TABLE traffic_rounds ADD COLUMN reflect_packets INTEGER NOT NULL DEFAULT 0;
			ALTER TABLE traffic_rounds ADD COLUMN spread_source TEXT NOT NULL DEFAULT '';
			ALTER TABLE traffic_rounds ADD COLUMN spread_port INTEGER NOT NULL DEFAULT 0;
			ALTER TABLE traffic_rounds ADD COLUMN spread_hosts INTEGER NOT NULL DEFAULT 0;
			ALTER TABLE traffic_sources ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
			ALTER TABLE traffic_sources ADD COLUMN attempt_host TEXT NOT NULL DEFAULT '';
			ALTER TABLE traffic_sources ADD COLUMN attempt_port INTEGER NOT NULL DEFAULT 0;
			ALTER TABLE traffic_sources ADD COLUMN local INTEGER NOT NULL DEFAULT 0;`, 8, nil
	case 8:
		return `ALTER TABLE traffic_rounds ADD COLUMN dns_nx_depth INTEGER NOT NULL DEFAULT 0;
			ALTER TABLE traffic_rounds ADD COLUMN dns_nx_name TEXT NOT NULL DEFAULT '';
			ALTER TABLE traffic_rounds ADD COLUMN backdoor_host TEXT NOT NULL DEFAULT '';
			ALTER TABLE traffic_rounds ADD COLUMN backdoor_port INTEGER NOT NULL DEFAULT 0;
			ALTER TABLE traffic_rounds ADD COLUMN backdoor_peers INTEGER NOT NULL DEFAULT 0;`, 9, nil
	case 9:
		return `DROP INDEX packets_round_port; CREATE INDEX packets_round ON packets (round_id);`, 10, nil
	case 10:
		return portsV11, 11, nil
	}
	return "", 0, fmt.Errorf("no migration from schema version %d", v)
}

// netnsV4 rebuilds rounds_ports with the network namespace in its key (SQLite
// cannot change a UNIQUE constraint in place). Rows stored before it came from
// collect's own namespace, the only one it scanned: they get the host mark
// (netns_host 1) and netns 0, inode not told. The old table is renamed away
// first so the new one's stored CREATE text is schema.sql's, not a renamed
// copy's; the views it rewrites are recreated after every migration.
const netnsV4 = `
ALTER TABLE rounds_ports RENAME TO rounds_ports_v3;
CREATE TABLE rounds_ports (
    id        INTEGER PRIMARY KEY,
    round_id  INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    port_id   INTEGER NOT NULL REFERENCES ports (id),
    timestamp TEXT    NOT NULL,                  -- first scan of the round that saw it
    protocol  TEXT    NOT NULL CHECK (protocol IN ('tcp', 'udp')),
    family    INTEGER NOT NULL CHECK (family IN (4, 6)),
    address   TEXT    NOT NULL,                  -- local address: 0.0.0.0, 127.0.0.1, ::, ...
    state     TEXT    NOT NULL,                  -- as ss names it: listen, established, time-wait, unconn, ...
    pid       INTEGER,                           -- owning process where the system tells it
    process   TEXT,
    netns      INTEGER NOT NULL DEFAULT 0,       -- network namespace inode, as lsns shows it; 0 where not told
                                                 -- (rows stored before v4, a --proc-root copy, the bind scan)
    netns_host INTEGER NOT NULL DEFAULT 1 CHECK (netns_host IN (0, 1)),  -- 1: the host's own namespace
                                                 -- (collect's own where not told)
    netns_name TEXT,                             -- ip netns name or container (docker:0123456789ab), NULL if none
    UNIQUE (round_id, port_id, protocol, family, address, state, netns)
);
INSERT INTO rounds_ports (id, round_id, port_id, timestamp, protocol, family, address, state, pid, process)
SELECT id, round_id, port_id, timestamp, protocol, family, address, state, pid, process FROM rounds_ports_v3;
DROP TABLE rounds_ports_v3;
CREATE INDEX rounds_ports_port ON rounds_ports (port_id);
`

// portsV11 rebuilds ports without the UNIQUE index on value, which the
// CHECK (value = id) makes redundant. It runs with foreign keys off (see
// migrate), as rounds_ports and packets reference ports: SQLite would
// otherwise point their REFERENCES at the renamed table, and check every
// reference when the old one is dropped. With legacy_alter_table on, the
// RENAME leaves the references as they are; the new table has the old
// ids, so every one of them holds again. The old table is renamed away
// first so the new one's stored CREATE text is schema.sql's.
var portsV11 = `
PRAGMA legacy_alter_table = ON;
ALTER TABLE ports RENAME TO ports_v10;
` + schema.Section("ports") + `
INSERT INTO ports (id, value) SELECT id, value FROM ports_v10;
DROP TABLE ports_v10;
PRAGMA legacy_alter_table = OFF;
`

// seedPorts returns the statements that fill ports with 0..65535 in the
// migration's transaction: 256 x 256 rows of a VALUES list, in order (CROSS
// JOIN keeps hi the outer loop), so every row appends to the table; a
// recursive CTE of 65,536 steps was twice its CPU. After port 0 the ids are
// SQLite's own, one past the largest, so equal to the value (as the CHECK
// wants) without a search of the table for each (a seventh of the seed).
// OR FAIL spares the statement journal (a third of the seed's CPU); a
// failure rolls the whole migration back all the same.
func seedPorts() string {
	var b strings.Builder
	b.WriteString("\nINSERT OR FAIL INTO ports (id, value) VALUES (0, 0);\nWITH b(v) AS (VALUES (0)")
	for v := 1; v < 256; v++ {
		fmt.Fprintf(&b, ",(%d)", v)
	}
	b.WriteString(")\nINSERT OR FAIL INTO ports (value) SELECT hi.v * 256 + lo.v FROM b hi CROSS JOIN b lo WHERE hi.v + lo.v > 0;\n")
	return b.String()
}

// pageSize is new files' page size: with 16 KiB instead of SQLite's 4 KiB
// default, ingest writes a quarter of the WAL frames (two syscalls each) and
// splits a quarter of the pages; its CPU time fell by an eighth.
const pageSize = 16384

// busyTimeoutMS is how long a statement waits for another connection's
// write lock before failing; readers such as sqlite3 or detect hold it briefly.
const busyTimeoutMS = 5000

// DB is an open portwatch database.
type DB struct {
	db   *sql.DB
	path string
}

// VersionError reports a database written by a newer portwatch.
type VersionError struct {
	Path          string
	Found, Wanted int
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("database %s has schema version %d, newer than this build's %d; upgrade portwatch", e.Path, e.Found, e.Wanted)
}

// ErrForeign reports a SQLite file that holds tables but is not a portwatch database.
var ErrForeign = errors.New("not a portwatch database (it has tables but no portwatch schema version); pass a new file or a portwatch database")

// ErrNotSQLite reports a database file that is not SQLite at all.
var ErrNotSQLite = errors.New("not a SQLite database; pass a new file or a portwatch database")

// Option changes how Open opens a database.
type Option func(*openConfig)

type openConfig struct{ log *slog.Logger }

// WithLogger makes Open log its warnings (a database file it tightened) to log.
func WithLogger(log *slog.Logger) Option { return func(c *openConfig) { c.log = log } }

// Open opens the database at path, creating it with mode 0600 when missing,
// and migrates it to SchemaVersion. Take the run lock (TryLock) first.
//
// Before SQLite sees the file, Open refuses (*RefusedError, writing
// nothing) ":memory:", a path longer than SQLite takes, and a database, -wal
// or -shm file that is not a regular file or that another non-root user
// owns; it tightens to 0600, with a warning, such a file of this user that
// others may read. A file Open created is removed again when opening fails.
func Open(ctx context.Context, path string, opts ...Option) (_ *DB, err error) {
	cfg := openConfig{log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&cfg)
	}
	if err := checkName(path); err != nil {
		return nil, err
	}
	created, err := createPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("create database %s: %w", path, err)
	}
	if created {
		defer func() {
			if err != nil {
				removeIfEmpty(path)
			}
		}()
	}
	if err := checkDatabaseFiles(path, cfg.log); err != nil {
		return nil, err
	}
	if err := checkWritable(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite3", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	d := &DB{db: db, path: path}
	if err := d.migrate(ctx); err != nil {
		db.Close()
		return nil, explain(path, err)
	}
	return d, nil
}

// removeIfEmpty removes the database file Open created when it is still
// empty, with the -wal and -shm files SQLite may have started.
func removeIfEmpty(path string) {
	if st, err := os.Stat(path); err == nil && st.Size() == 0 {
		os.Remove(path)
		os.Remove(path + "-wal")
		os.Remove(path + "-shm")
	}
}

// dsn builds go-sqlite3's URI; the path is escaped so names with '?' or '#' work.
func dsn(path string) string {
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(busyTimeoutMS))
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "NORMAL")
	// 2 MiB of page cache (a bound, so RSS stays flat) keeps ingest from
	// re-reading the index pages it is filling; with 16 KiB pages more only
	// made RSS grow with the file (8 MiB: 48 MiB peak, 60 MiB for two files).
	q.Set("_cache_size", "-2048")
	// database/sql never uses one connection from two goroutines at once,
	// so SQLite's per-call connection mutex is pure cost.
	q.Set("_mutex", "no")
	// Write transactions take the write lock at BEGIN, so a busy database
	// fails (or waits) at the start instead of deadlocking on upgrade.
	q.Set("_txlock", "immediate")
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// createPrivate creates an empty file with mode 0600 so SQLite (which gives
// its -wal and -shm files the database's mode) never makes a world-readable
// one; created is false when the file was there.
func createPrivate(path string) (created bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, f.Close()
}

// checkWritable refuses a database this process cannot write before SQLite
// opens it: SQLite would otherwise create the -shm and -wal files with the
// database's read-only mode, and they would keep failing every later run even
// after the user fixed the database's own permissions.
func checkWritable(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err == nil {
		f.Close()
		err = syscall.Access(filepath.Dir(path), 2) // W_OK: the -wal and -shm files go beside it
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("open database %s: read-only; make the file and its directory writable by this user: %w", path, err)
	}
	return fmt.Errorf("open database %s: %w", path, err)
}

// explain turns SQLite's codes for the usual user mistakes into one line
// naming the file and what to do.
func explain(path string, err error) error {
	var se sqlite3.Error
	var ve *VersionError
	switch {
	case errors.As(err, &ve):
		return err
	case errors.As(err, &se) && se.Code == sqlite3.ErrNotADB:
		return fmt.Errorf("open database %s: %w: %w", path, ErrNotSQLite, err)
	case errors.As(err, &se) && se.Code == sqlite3.ErrReadonly:
		return fmt.Errorf("open database %s: read-only; make the file and its directory writable by this user: %w", path, err)
	case errors.As(err, &se) && se.Code == sqlite3.ErrFull:
		return fmt.Errorf("open database %s: disk full; free space on its file system and run again: %w", path, err)
	case errors.As(err, &se) && se.Code == sqlite3.ErrBusy:
		return fmt.Errorf("open database %s: locked by another program for more than %d ms; retry when it is done: %w", path, busyTimeoutMS, err)
	}
	return fmt.Errorf("open database %s: %w", path, err)
}

// migrate checks the file is a portwatch database of a version this code
// knows before changing anything in it (even the journal mode, which is
// stored in the file), then applies the missing migrations in one transaction.
func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.version(ctx, d.db); err != nil {
		return err
	}
	// A new file takes its page size and auto-vacuum mode from the
	// connection that first writes it, here: setting WAL writes the header.
	// The page size goes first, as setting auto-vacuum fixes it. On an
	// existing file both are no-ops (in WAL mode the page size is fixed for
	// good; a mode change waits for a VACUUM, which cleanup runs itself).
	// New files get incremental auto-vacuum, so cleanup can hand freed pages
	// back in small steps.
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// An empty file is set up without fsyncs (eight of them, in two
	// rollback-journal transactions and the WAL's first commit): until the
	// migration commits there is nothing in it to lose, a power cut leaves
	// an empty or schema-less file that the next Open sets up again, and
	// the checkpointer (synchronous NORMAL) syncs the WAL before it copies
	// a page into the file.
	var pages int64
	if err := conn.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		return fmt.Errorf("read page count: %w", err)
	}
	pragmas := []string{fmt.Sprintf("PRAGMA page_size = %d", pageSize), "PRAGMA auto_vacuum = INCREMENTAL"}
	if pages == 0 {
		pragmas = append([]string{"PRAGMA synchronous = OFF"}, pragmas...)
	}
	for _, pragma := range pragmas {
		if _, err := conn.ExecContext(ctx, pragma); err != nil {
			return fmt.Errorf("%s: %w", pragma, err)
		}
	}
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return fmt.Errorf("set WAL mode: %w", err)
	}
	if mode != "wal" {
		return fmt.Errorf("set WAL mode: the file system left journal mode %q; use a local file system", mode)
	}
	// Migrations rebuild tables others reference (portsV11), which SQLite
	// allows only with foreign keys off, set outside the transaction. The
	// connection goes back to the pool with them on again; if that fails,
	// Open fails and closes the pool.
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		return fmt.Errorf("turn foreign keys off to migrate: %w", err)
	}
	if err := d.migrateOn(ctx, conn); err != nil {
		return err
	}
	// Back to the DSN's settings (see dsn).
	for _, pragma := range []string{"PRAGMA foreign_keys = ON", "PRAGMA synchronous = NORMAL"} {
		if _, err := conn.ExecContext(ctx, pragma); err != nil {
			return fmt.Errorf("%s after migrating: %w", pragma, err)
		}
	}
	return nil
}

// migrateOn applies the missing migrations on conn in one transaction.
func (d *DB) migrateOn(ctx context.Context, conn *sql.Conn) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	version, err := d.version(ctx, tx) // again, under the write lock
	if err != nil {
		return err
	}
	for v := version; v < SchemaVersion; {
		stmts, next, err := migration(v)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, stmts); err != nil {
			return fmt.Errorf("migrate schema %d to %d: %w", v, next, err)
		}
		v = next
	}
	// Foreign keys are off while migrations run (see migrate), so what they
	// would have refused is looked for once before the commit.
	if version > 0 && version < SchemaVersion {
		rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
		if err != nil {
			return fmt.Errorf("check foreign keys after migrating: %w", err)
		}
		broken := rows.Next()
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("check foreign keys after migrating: %w", err)
		}
		if broken {
			return fmt.Errorf("migrate schema %d to %d: rows would reference rows that are gone; the file is left at version %d", version, SchemaVersion, version)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion)); err != nil {
		return fmt.Errorf("set schema version: %w", err)
	}
	if _, err := tx.ExecContext(ctx, schema.Views()); err != nil {
		return fmt.Errorf("create views: %w", err)
	}
	return tx.Commit()
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// version returns the file's schema version, or an error when this code
// cannot use the file.
func (d *DB) version(ctx context.Context, q querier) (int, error) {
	var version, tables int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if version > SchemaVersion {
		return 0, &VersionError{Path: d.path, Found: version, Wanted: SchemaVersion}
	}
	if version > 0 {
		return version, nil
	}
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'").Scan(&tables); err != nil {
		return 0, fmt.Errorf("list tables: %w", err)
	}
	if tables > 0 {
		return 0, ErrForeign
	}
	return 0, nil
}

// Path returns the file the database was opened from.
func (d *DB) Path() string { return d.path }

// Close closes the database.
func (d *DB) Close() error {
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("close database %s: %w", d.path, err)
	}
	return nil
}
