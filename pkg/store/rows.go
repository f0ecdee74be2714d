package store

import (
	"database/sql/driver"
	"fmt"
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
		if err := w.runQuery(r.many, args[:chunk]); err != nil {
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
		r.many.(driver.Stmt).Close()
		return r.one.(driver.Stmt).Close()
	})
}
