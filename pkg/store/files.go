package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
)

// RefusedError reports a file portwatch will not use as it is: a database
// or lock file another user owns, a planted symbolic link, a name SQLite
// gives another meaning, a path too long for SQLite. It is bad input, and
// nothing was written.
type RefusedError struct {
	Path   string
	Reason string // what is wrong and what to do
}

func (e *RefusedError) Error() string { return fmt.Sprintf("%s: %s", e.Path, e.Reason) }

// maxPath is the longest full database path SQLite's unix VFS opens
// (MAX_PATHNAME is 512, less room for its -journal name; 505 bytes fail, by
// trial); longer fails only after the file was created.
const maxPath = 504

// checkName refuses database paths SQLite would not treat as a plain file
// of that name.
func checkName(path string) error {
	if path == ":memory:" {
		return &RefusedError{Path: path, Reason: "is SQLite's name for a private in-memory database no later run could read; pass a file name (./:memory: for a file called that)"}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("database %s: %w", path, err)
	}
	if real, err := realPath(abs); err == nil {
		abs = real
	}
	if len(abs) > maxPath {
		return &RefusedError{Path: path, Reason: fmt.Sprintf("full path of %d bytes is longer than SQLite's limit of %d; use a shorter path", len(abs), maxPath)}
	}
	return nil
}

// realPath resolves the symbolic links in path; a file that does not exist
// yet is resolved through its directory.
func realPath(path string) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err == nil {
		return real, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("resolve %s: %w", path, err)
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(path))
	if err != nil {
		return path, nil // the open that follows names the missing directory
	}
	return filepath.Join(dir, filepath.Base(path)), nil
}

// checkOwned refuses a file (what names it in the message) that is not a
// regular file, or that another non-root user owns: whoever owns it can
// read what this run writes, or chose what it points this run at.
func checkOwned(f *os.File, path, what string) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return &RefusedError{Path: path, Reason: fmt.Sprintf("%s is not a regular file (%v)", what, st.Mode().Type())}
	}
	if uid := fileOwner(st); uid != os.Geteuid() && uid != 0 {
		return &RefusedError{Path: path, Reason: fmt.Sprintf("%s is owned by uid %d, not this user (uid %d); run as its owner or move it aside", what, uid, os.Geteuid())}
	}
	return nil
}

func fileOwner(st fs.FileInfo) int {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(s.Uid)
	}
	return -1
}

// checkDatabaseFiles checks the database and the -wal and -shm files beside
// it before SQLite opens them: each must be a regular file of this user or
// root, and one this user owns with permissions for others is tightened to
// 0600 with a warning (packets' payloads and DNS names are in it).
func checkDatabaseFiles(path string, log *slog.Logger) error {
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) && name != path {
			continue
		}
		if err != nil {
			return fmt.Errorf("open database %s: %w", name, err)
		}
		err = checkPrivate(f, name, log)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func checkPrivate(f *os.File, name string, log *slog.Logger) error {
	if err := checkOwned(f, name, "database file"); err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	mode := st.Mode().Perm()
	if mode&0o077 == 0 || fileOwner(st) != os.Geteuid() {
		return nil
	}
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("tighten database %s to mode 0600: %w", name, err)
	}
	log.Warn("database file was readable or writable by others; tightened to 0600", "file", name, "mode", fmt.Sprintf("%04o", mode))
	return nil
}
