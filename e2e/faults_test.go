package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
)

// faultRun is one program run against a database that cannot be written.
type faultRun struct {
	name string
	prog string
	args []string
	// readOnly marks a run that only reads (detect --since): it may
	// succeed instead of failing with the error.
	readOnly bool
}

// faultRuns are the runs every fault test tries, on db with its model and
// the capture tiny.
func faultRuns(db, model, tiny string) []faultRun {
	return []faultRun{
		{name: "collect live round", prog: "collect", args: []string{"-d", db, "-r", "1", "--scan-interval", "200ms"}},
		{name: "collect pcap", prog: "collect", args: []string{"-d", db, "-r", "1", "--pcap", tiny}},
		{name: "detect", prog: "detect", args: []string{"-d", db, "--model", model, "--min-rounds", "10"}},
		{name: "detect --since", prog: "detect", args: []string{"-d", db, "--model", model, "--since", "36500d"}, readOnly: true},
		{name: "cleanup", prog: "cleanup", args: []string{"-d", db, "--keep", "1d"}},
	}
}

// expectFault runs f with cmd's settings and fails the test unless it
// exits non-zero with one error line matching want (a read-only run may
// also succeed).
func expectFault(t *testing.T, f faultRun, cmd *exec.Cmd, want *regexp.Regexp) {
	t.Helper()
	r := run(t, cmd)
	if f.readOnly && r.code == 0 {
		t.Logf("%s: read-only run succeeded: %q", f.name, lastLine(r.stdout))
		return
	}
	if r.code == 0 {
		t.Errorf("%s: %s, want a non-zero exit", f.name, r)
		return
	}
	line, err := errorLine(f.prog, r)
	if err != nil {
		t.Errorf("%s: %v", f.name, err)
		return
	}
	// Paths hold the test's name, which may say what the line must.
	if !want.MatchString(pathLike.ReplaceAllString(line, "PATH")) {
		t.Errorf("%s: error %q, want one matching %q", f.name, line, want)
		return
	}
	t.Logf("%s: exit %d: %s", f.name, r.code, line)
}

// pathLike matches the file names in an error line.
var pathLike = regexp.MustCompile(`/[^ :]*`)

var diskFull = regexp.MustCompile(`(?i)disk is full|no space left`)

// TestFullDisk puts the database on a 8 MiB tmpfs and the model on a
// 24 MiB one (room for one 14 MiB model, not for a second during a save).
// An ingest of the benchmark capture fills the database's disk; then, with
// the rest filled by a file, each program runs. Each must fail with one
// line naming the full disk; afterwards (space freed) the database must
// pass integrity_check with every earlier round intact, and the next
// collect must work. Last, detect refits while the model's disk is too
// small for the new file: it must fail the same way, leave the old model
// loadable and no temporary file.
func TestFullDisk(t *testing.T) {
	slow(t)
	caps := newCaptures(t)
	dbfs, modelfs := mount(t, "8m"), mount(t, "24m")
	db := filepath.Join(dbfs, "ports.db")
	model := filepath.Join(modelfs, "portae.onnx")
	history(t, db, 50, 10) // the held 10 are the normal rounds "model disk full" refits on
	mustRun(t, "detect", "-d", db, "--model", model, "--min-rounds", "10")
	modelLoads(t, model)
	liveRound(t, db) // a round the last detect scores
	before := rounds(t, db)

	t.Run("ingest fills the disk", func(t *testing.T) {
		f := faultRun{name: "collect benchmark ingest", prog: "collect", args: []string{"-d", db, "-r", "60", "--pcap", caps.big(t)}}
		expectFault(t, f, command(f.prog, f.args...), diskFull)
		after := rounds(t, db)
		checkIntegrity(t, db)
		checkKept(t, "after the disk filled", before, after)
		checkNew(t, "", summary{}, before, after)
		before = after
	})

	t.Run("disk already full", func(t *testing.T) {
		filler := fill(t, dbfs)
		for _, f := range faultRuns(db, model, caps.tiny) {
			expectFault(t, f, command(f.prog, f.args...), diskFull)
		}
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		after := rounds(t, db)
		checkIntegrity(t, db)
		checkKept(t, "after runs on the full disk", before, after)
		if len(after) != len(before) {
			t.Errorf("runs on a full disk: got %d rounds, want the %d from before", len(after), len(before))
		}
		collect(t, db, "-r", "60", "--pcap", caps.tiny)
		checkIntegrity(t, db)
	})

	t.Run("model disk full", func(t *testing.T) {
		release(t, db)
		f := faultRun{name: "detect saving the refit model", prog: "detect", args: []string{"-d", db, "--model", model, "--min-rounds", "10"}}
		expectFault(t, f, command(f.prog, f.args...), diskFull)
		modelLoads(t, model)
		if temps := tempModels(t, modelfs); len(temps) != 0 {
			t.Errorf("a failed save left temporary files %v, want none", temps)
		}
		checkIntegrity(t, db)
		checkKept(t, "after the failed save", before, rounds(t, db))
	})
}

// fill fills the file system holding dir with one file and returns its name.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Big writes first, then pages, until nothing fits: a bounded loop, as
	// each successful write takes space the mount does not have forever.
	for _, size := range []int{1 << 20, 4096, 1} {
		buf := make([]byte, size)
		for range 1 << 12 {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("fill %s: %v", dir, err)
				}
				break
			}
		}
	}
	return path
}

var readOnly = regexp.MustCompile(`(?i)read-only|readonly`)

// TestReadOnlyDatabase runs every program against a database it cannot
// write, two ways: on a tmpfs remounted read-only (as root), and as the
// user nobody with the file at mode 0400 in nobody's own directory (root
// writes a 0400 file anyway). Each run must fail with one line naming the read-only
// database (detect --since, which only reads, may also succeed). When the
// database is writable again, the next collect, as the same user, must
// work, and every earlier round must be intact.
func TestReadOnlyDatabase(t *testing.T) {
	slow(t)
	caps := newCaptures(t)
	ways := []struct {
		name string
		// setUp returns the directory for the database and model and how
		// to run the programs.
		setUp func(t *testing.T) (dir string, as func(*exec.Cmd) *exec.Cmd)
		// lock makes db read-only; unlock undoes it.
		lock, unlock func(t *testing.T, dir, db string)
	}{
		{
			name:   "read-only mount",
			setUp:  func(t *testing.T) (string, func(*exec.Cmd) *exec.Cmd) { return mount(t, "32m"), asRoot },
			lock:   func(t *testing.T, dir, _ string) { remount(t, dir, "ro") },
			unlock: func(t *testing.T, dir, _ string) { remount(t, dir, "rw") },
		},
		{
			name:  "mode 0400 as nobody",
			setUp: func(t *testing.T) (string, func(*exec.Cmd) *exec.Cmd) { return nobodyDir(t), asNobody },
			lock: func(t *testing.T, dir, db string) {
				chownAll(t, dir)
				chmod(t, db, 0o400)
			},
			unlock: func(t *testing.T, _, db string) { chmod(t, db, 0o600) },
		},
	}
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			dir, as := w.setUp(t)
			db, model := filepath.Join(dir, "ports.db"), filepath.Join(dir, "portae.onnx")
			history(t, db, 40, 0)
			mustRun(t, "detect", "-d", db, "--model", model, "--min-rounds", "10")
			before := rounds(t, db)

			w.lock(t, dir, db)
			for _, f := range faultRuns(db, model, caps.tiny) {
				expectFault(t, f, as(command(f.prog, f.args...)), readOnly)
			}
			w.unlock(t, dir, db)

			// The same user's next run first: a check of ours as root
			// would tidy files the failed runs left.
			next := as(command("collect", "-d", db, "-r", "60", "--pcap", caps.tiny))
			if r := run(t, next); r.code != 0 {
				t.Errorf("collect after the database is writable again: %s, want exit 0", r)
			}
			checkIntegrity(t, db)
			checkKept(t, "after the read-only runs", before, rounds(t, db))
		})
	}
}

func asRoot(cmd *exec.Cmd) *exec.Cmd { return cmd }

// nobodyDir makes a directory the user nobody owns, under the system temp
// directory (t.TempDir's parents are closed to other users).
func nobodyDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "portwatch-e2e-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Skipf("cannot give a directory to nobody (needs root): %v", err)
	}
	return dir
}

// chownAll gives dir and everything in it to nobody.
func chownAll(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(path, nobody, nobody)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
