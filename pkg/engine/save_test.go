package engine

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestWriteFileRemovesStaleTemporaries plays a save killed mid-write an hour
// ago and one in progress right now: the next save removes only the first.
func TestWriteFileRemovesStaleTemporaries(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "portae.onnx")
	stale := filepath.Join(dir, ".portae.onnx.tmp111")
	live := filepath.Join(dir, ".portae.onnx.tmp222")
	other := filepath.Join(dir, ".other.onnx.tmp333")
	for _, name := range []string{stale, live, other} {
		if err := os.WriteFile(name, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	hourAgo := time.Now().Add(-time.Hour)
	for _, name := range []string{stale, other} {
		if err := os.Chtimes(name, hourAgo, hourAgo); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteFile(path, []byte("model v1")); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{".other.onnx.tmp333", ".portae.onnx.tmp222", "portae.onnx"}
	if !slices.Equal(got, want) {
		t.Errorf("files after save %v, want %v", got, want)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("model mode %v, want 0600", st.Mode().Perm())
	}
}
