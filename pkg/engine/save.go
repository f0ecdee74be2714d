package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"portwatch/pkg/onnx"
)

// Encode returns the model file with the current weights and metadata: the
// original bytes with only the initializers and metadata_props rewritten.
func (m *Model) Encode() ([]byte, error) {
	b, err := onnx.Rewrite(m.file, m.Params(), m.meta)
	if err != nil {
		return nil, fmt.Errorf("encode model %s: %w", m.name, err)
	}
	return b, nil
}

// Save writes the model to path atomically: a temporary file beside it
// (mode 0600), fsync, the old file kept as path+".prev", the new one
// renamed into place, and the directory synced. A crash at any point leaves
// a complete model at path.
func (m *Model) Save(path string) error {
	b, err := m.Encode()
	if err != nil {
		return err
	}
	if err := WriteFile(path, b); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	m.file = b
	return nil
}

// WriteFile writes data to path atomically, keeping the previous file as
// path+".prev".
func WriteFile(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	pattern := "." + filepath.Base(path) + ".tmp*"
	removeStale(filepath.Join(dir, pattern))
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
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
	if err := keepPrevious(path); err != nil {
		return fmt.Errorf("keep previous model: %w", err)
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

// staleAge is how old a temporary file must be before a save takes it for
// the leftover of a writer killed mid-save; a live writer's is seconds old.
const staleAge = time.Minute

// removeStale deletes temporary files that killed saves left beside the
// model (each as large as the model), so repeated crashes do not fill the disk.
func removeStale(glob string) {
	old, _ := filepath.Glob(glob)
	for _, name := range old {
		if st, err := os.Stat(name); err == nil && time.Since(st.ModTime()) > staleAge {
			os.Remove(name)
		}
	}
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
