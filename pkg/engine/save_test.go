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
	got := dirNames(t, dir)
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

// TestWriteFileGlobName saves a model named with glob characters: the stale
// cleanup must take only that model's own old temporaries, not the files a
// glob of its name would match.
func TestWriteFileGlobName(t *testing.T) {
	dir := t.TempDir()
	keep := []string{".mx.tmp1", ".m?.tmpx", ".m[.tmp12", "mx"}
	stale := ".m?.tmp42"
	hourAgo := time.Now().Add(-time.Hour)
	for _, name := range append([]string{stale}, keep...) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, hourAgo, hourAgo); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteFile(filepath.Join(dir, "m?"), []byte("model")); err != nil {
		t.Fatal(err)
	}
	got := dirNames(t, dir)
	want := []string{".m?.tmpx", ".m[.tmp12", ".mx.tmp1", "m?", "mx"}
	if !slices.Equal(got, want) {
		t.Errorf("files after save %v, want %v", got, want)
	}
}

// TestWriteFileThroughSymlink saves through a link to a shared model: the
// link stays a link, the target gets the new bytes and its .prev the old.
func TestWriteFileThroughSymlink(t *testing.T) {
	shared, dir := t.TempDir(), t.TempDir()
	target := filepath.Join(shared, "portae.onnx")
	link := filepath.Join(dir, "portae.onnx")
	if err := os.WriteFile(target, []byte("v1"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(link, []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("link after save: %v, %v; want a symbolic link", st, err)
	}
	for path, want := range map[string]string{target: "v2", target + ".prev": "v1"} {
		if b, err := os.ReadFile(path); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", path, b, err, want)
		}
	}
	if _, err := os.Lstat(link + ".prev"); !os.IsNotExist(err) {
		t.Errorf("%s.prev exists beside the link (%v); want it beside the target", link, err)
	}
}

// dirNames lists the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
