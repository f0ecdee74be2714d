package detectjob

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"portwatch/pkg/atomicfile"
	"portwatch/pkg/detector"
	"portwatch/pkg/runerr"
)

// TestWritePlotFiles: a planted link at the plot path is refused and its
// target left whole; a plot made under umask 000 is 0644, not 0666.
func TestWritePlotFiles(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	rs := []detector.Scored{{Start: time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC), Score: 0.1, Threshold: 0.5}}
	dir := t.TempDir()

	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.png")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	err := WritePlot(link, rs)
	var ue *runerr.BadInputError
	if !errors.Is(err, atomicfile.ErrSymlink) || !errors.As(err, &ue) {
		t.Errorf("plot to a link: got %v, want a usage error wrapping ErrSymlink", err)
	}
	if b, _ := os.ReadFile(secret); string(b) != "keep me" {
		t.Errorf("link target after the plot: %q, want it untouched", b)
	}

	png := filepath.Join(dir, "scores.png")
	if err := WritePlot(png, rs); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(png)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o644 {
		t.Errorf("plot mode under umask 000: got %v, want 0644", got)
	}
}
