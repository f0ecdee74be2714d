package store

import (
	"database/sql/driver"
	"fmt"
	"slices"
	"strings"
)

// rowInserter inserts rows into one table through the Writer's
// connection: perInsert rows at a time by one prepared multi-row INSERT,
// fewer by a one-row INSERT of the same columns. SQLite's cost per
// statement (reset, bind, the program's start) and the driver's (a cgo
// call, a rows object) are then paid once per perInsert rows.
//
// OR FAIL keeps the rows before a failed one instead of undoing the
// statement, so SQLite keeps no statement journal (a fifth of the packets'
// INSERT). Those rows never reach a commit: the failure fails the Writer,
// whose Close rolls the transaction back.
type rowInserter struct {
	table     string
	cols      int
	perInsert int
	many, one driver.StmtQueryContext
	narrow    []narrowInsert      // narrowest first
	oneArgs   []driver.NamedValue // one row's arguments, ordinals 1..cols
	buf       []driver.NamedValue // rows added and not inserted yet
	rows      int                 // rows in buf
}

// newRowInserter prepares the INSERTs of columns (comma-separated) into
// table, perInsert rows and one row; use it on the Writer's goroutine.
func (w *Writer) newRowInserter(table, columns string, perInsert int) (*rowInserter, error) {
	r := &rowInserter{table: table, cols: strings.Count(columns, ",") + 1, perInsert: perInsert}
	text := "INSERT OR FAIL INTO " + table + " (" + columns + ") VALUES "
	err := w.conn.Raw(func(dc any) (err error) {
		if r.many, err = prepareQuery(w.ctx, dc, text+valuesList(perInsert, r.cols)); err != nil {
			return err
		}
		if r.one, err = prepareQuery(w.ctx, dc, text+valuesList(1, r.cols)); err != nil {
			r.many.(driver.Stmt).Close()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("prepare the INSERTs into %s: %w", table, err)
	}
	r.oneArgs = insertArgs(1, r.cols, 1)
	return r, nil
}

// narrowInsert is a multi-row INSERT of some of a table's columns, for
// statements' worth of rows whose other columns are all NULL (columns
// without a DEFAULT, so leaving them out stores NULL): SQLite's and the
// driver's work grow with the values bound, and most packets have neither
// DNS names nor a payload (ingest's wall time fell by a twentieth).
type narrowInsert struct {
	q    driver.StmtQueryContext
	keep []int // the columns it binds, in order
	omit []int // the others
}

// addNarrow prepares an INSERT of perInsert rows of r's columns but those
// at the indexes omit (of columns, r's, comma-separated). Add the narrowest
// first: a statement's rows go to the first that fits them.
func (w *Writer) addNarrow(r *rowInserter, columns string, omit ...int) error {
	names := strings.Split(columns, ",")
	var keep []int
	var kept []string
	for i, name := range names {
		if !slices.Contains(omit, i) {
			keep = append(keep, i)
			kept = append(kept, strings.TrimSpace(name))
		}
	}
	text := "INSERT OR FAIL INTO " + r.table + " (" + strings.Join(kept, ", ") + ") VALUES " + valuesList(r.perInsert, len(keep))
	var q driver.StmtQueryContext
	err := w.conn.Raw(func(dc any) (err error) {
		q, err = prepareQuery(w.ctx, dc, text)
		return err
	})
	if err != nil {
		return fmt.Errorf("prepare an INSERT into %s: %w", r.table, err)
	}
	r.narrow = append(r.narrow, narrowInsert{q: q, keep: keep, omit: omit})
	return nil
}

// fits reports whether the rows of args bind NULL in every column n leaves
// out; it looks at those alone (a walk of every column cost the Writer's
// goroutine 27M instructions per benchmark ingest, 1 %).
func (n *narrowInsert) fits(args []driver.NamedValue, cols int) bool {
	for row := 0; row < len(args); row += cols {
		for _, c := range n.omit {
			if args[row+c].Value != nil {
				return false
			}
		}
	}
	return true
}

// pack moves the values of the columns n binds, of the rows of args, to
// the front of args, in the order n binds them, and returns how many. The
// ordinals stay: numbered from 1 in each statement's worth of args
// (insertArgs), they number the packed arguments too.
func (n *narrowInsert) pack(args []driver.NamedValue, cols int) int {
	i := 0
	for row := 0; row < len(args); row += cols {
		for _, c := range n.keep {
			args[i].Value = args[row+c].Value // i <= row+c: nothing is overwritten before it is moved
			i++
		}
	}
	return i
}

// valuesList returns the VALUES list of rows rows of cols parameters.
func valuesList(rows, cols int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	return strings.TrimSuffix(strings.Repeat(row+",", rows), ",")
}

// insertArgs returns arguments for rows rows of cols columns, numbered
// for statements of perInsert rows each: go-sqlite3 binds in one cgo call
// only arguments whose ordinals count from 1.
func insertArgs(rows, cols, perInsert int) []driver.NamedValue {
	args := make([]driver.NamedValue, rows*cols)
	for i := range args {
		args[i].Ordinal = i%(perInsert*cols) + 1
	}
	return args
}

// insert inserts the rows whose arguments args holds (from insertArgs with
// r's perInsert), whole statements first, then one by one.
func (r *rowInserter) insert(w *Writer, args []driver.NamedValue) error {
	chunk := r.perInsert * r.cols
	for ; len(args) >= chunk; args = args[chunk:] {
		if err := r.insertChunk(w, args[:chunk]); err != nil {
			return err
		}
	}
	for ; len(args) > 0; args = args[r.cols:] {
		for i := range r.oneArgs {
			r.oneArgs[i].Value = args[i].Value
		}
		if err := w.runQuery(r.one, r.oneArgs); err != nil {
			return err
		}
	}
	return nil
}

// insertChunk inserts one statement's worth of rows by the narrowest INSERT
// that fits them.
func (r *rowInserter) insertChunk(w *Writer, args []driver.NamedValue) error {
	q, n := r.pack(args)
	return w.runQuery(q, args[:n])
}

// pack readies one statement's worth of rows for the narrowest INSERT that
// fits them: it returns that statement and how many of args, packed to the
// front, it binds. args are the statement's to use until it has run.
func (r *rowInserter) pack(args []driver.NamedValue) (driver.StmtQueryContext, int) {
	for i := range r.narrow {
		if n := &r.narrow[i]; n.fits(args, r.cols) {
			return n.q, n.pack(args, r.cols)
		}
	}
	return r.many, len(args)
}

// add buffers one row, vals in column order as driver values (int64, not
// int), and inserts the buffer when it holds perInsert rows.
func (r *rowInserter) add(w *Writer, vals ...any) error {
	if r.buf == nil {
		r.buf = insertArgs(r.perInsert, r.cols, r.perInsert)
	}
	row := r.buf[r.rows*r.cols : (r.rows+1)*r.cols]
	for i, v := range vals {
		row[i].Value = v
	}
	if r.rows++; r.rows < r.perInsert {
		return nil
	}
	return r.flush(w)
}

// flush inserts the buffered rows.
func (r *rowInserter) flush(w *Writer) error {
	if r == nil || r.rows == 0 {
		return nil
	}
	n := r.rows
	r.rows = 0
	if err := r.insert(w, r.buf[:n*r.cols]); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", n, r.table, err)
	}
	return nil
}

// close closes r's statements.
func (r *rowInserter) close(w *Writer) {
	if r == nil {
		return
	}
	w.conn.Raw(func(any) error {
		for _, n := range r.narrow {
			n.q.(driver.Stmt).Close()
		}
		r.many.(driver.Stmt).Close()
		return r.one.(driver.Stmt).Close()
	})
}
