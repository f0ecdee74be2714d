// Package atomicfile writes whole files so that a crash at any point leaves
// either the old file or the new one at the path, never a part: the data goes
// to a temporary file beside the path (the same directory, so the rename
// stays on one file system), is synced, and is renamed into place.
//
// A rename replaces a symbolic link at the path rather than writing through
// it; callers decide what a link means (Resolve follows it, NoSymlink
// refuses it).
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Options say how Write leaves the file.
type Options struct {
	Mode         fs.FileMode // the new file's permissions, whatever the umask
	KeepPrevious bool        // keep the old file as path+".prev"
}

// ErrSymlink reports a path that is a symbolic link where the caller
// refuses to follow one.
var ErrSymlink = errors.New("is a symbolic link; pass the file itself")

// NoSymlink returns an error wrapping ErrSymlink when path is a symbolic link.
func NoSymlink(path string) error {
	st, err := os.Lstat(path)
	if err == nil && st.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s %w", path, ErrSymlink)
	}
	return nil
}

// Resolve returns the file a chain of symbolic links at path ends in, so a
// write lands beside the link's target and the link stays; path itself when
// it is not a link or does not exist yet.
func Resolve(path string) (string, error) {
	st, err := os.Lstat(path)
	if err != nil || st.Mode()&fs.ModeSymlink == 0 {
		return path, nil
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("resolve link %s: %w", path, err)
	}
	return real, nil
}

// Write writes data to path atomically with o's mode, removing first the
// temporaries that saves killed more than a minute ago left beside it.
func Write(path string, data []byte, o Options) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	prefix := tempPrefix(base)
	removeStale(dir, prefix, time.Now())
	f, err := os.CreateTemp(dir, prefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(o.Mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if o.KeepPrevious {
		if err := keepPrevious(path); err != nil {
			return fmt.Errorf("keep previous %s: %w", path, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// tempPrefix is what a temporary of base is named before os.CreateTemp's
// random decimal suffix.
func tempPrefix(base string) string { return "." + base + ".tmp" }

// staleAge is how old a temporary file must be before a save takes it for
// the leftover of a writer killed mid-save; a live writer's is seconds old.
const staleAge = time.Minute

// removeStale deletes temporary files that killed saves left in dir (each as
// large as the file), so repeated crashes do not fill the disk. It matches
// the exact names Write creates, prefix and decimal digits, never a glob:
// a file named "m?" must not take "mx"'s temporaries or anything else.
func removeStale(dir, prefix string, now time.Time) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !isTemp(e.Name(), prefix) || !e.Type().IsRegular() {
			continue
		}
		if st, err := e.Info(); err == nil && now.Sub(st.ModTime()) > staleAge {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// isTemp reports whether name is prefix followed by CreateTemp's digits.
func isTemp(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	return ok && rest != "" && strings.Trim(rest, "0123456789") == ""
}

// keepPrevious makes path+".prev" a copy of path. A hard link keeps path in
// place until the new file is renamed over it, so no crash leaves path
// missing; where links are not possible the old file is renamed.
func keepPrevious(path string) error {
	prev := path + ".prev"
	if err := os.Remove(prev); err != nil && !os.IsNotExist(err) {
		return err
	}
	err := os.Link(path, prev)
	if err == nil || os.IsNotExist(err) {
		return nil
	}
	if err := os.Rename(path, prev); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}
