package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"portwatch/pkg/capture/capturetest"
	"portwatch/pkg/collect"
	"portwatch/pkg/store"
	"portwatch/pkg/store/storetest"
)

// The test binary doubles as collect: run it with this variable set.
const asCollect = "PORTWATCH_TEST_RUN_COLLECT"

func TestMain(m *testing.M) {
	if os.Getenv(asCollect) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// collectCmd returns a command running collect with args.
func collectCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), asCollect+"=1")
	return cmd
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// mixed writes capturetest.Mixed, 18 frames, as a pcap file in a temp directory.
func mixed(t *testing.T) string {
	t.Helper()
	return capturetest.Temp(t, "mixed.pcap", capturetest.Mixed(t)...)
}

func TestUsageAndExitCodes(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ports.db")
	text := filepath.Join(dir, "notes.pcap")
	if err := os.WriteFile(text, []byte("plain text, not a capture\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mixedFile := mixed(t)                                                   // 18 frames
	scanFile := capturetest.Temp(t, "scan.pcap", capturetest.Scan(t, 5)...) // 10 frames
	raw, err := os.ReadFile(scanFile)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.pcap")
	if err := os.WriteFile(cut, raw[:len(raw)-30], 0o600); err != nil { // inside the last record
		t.Fatal(err)
	}
	for _, c := range []struct {
		name       string
		args       []string
		code       int
		stderr     string // substring, "" for none
		stdout     string
		wantFrames int64 // packets in db afterwards; -1: no database file
	}{
		{"no database", nil, 2, "no database: pass -d FILE", "", -1},
		{"help", []string{"--help"}, 0, "", "--scan-interval", -1},
		{"unknown flag", []string{"--bogus"}, 2, "flag provided but not defined: -bogus", "", -1},
		{"zero round", []string{"-d", db, "-r", "0"}, 2, "pass -r with a positive number", "", -1},
		{"bad scan method", []string{"-d", db, "--scan", "nmap"}, 2, `scan method "nmap"`, "", -1},
		{"bad log format", []string{"-d", db, "--log-format", "xml"}, 2, "--log-format", "", -1},
		{"stray argument", []string{"-d", db, "extra"}, 2, `unexpected argument "extra"`, "", -1},
		{"pcap and -p", []string{"-d", db, "-p", "--pcap", mixedFile}, 2, "drop -p", "", -1},
		{"bad --local", []string{"-d", db, "--local", "10.0.0.300/24", "--pcap", mixedFile}, 2, `--local "10.0.0.300/24"`, "", -1},
		{"--local without --pcap", []string{"-d", db, "--local", "10.0.0.0/24"}, 2, "use it with --pcap", "", -1},
		{"list", []string{"--list"}, 0, "", "NETNS", -1},
		{"list by binding", []string{"--list", "--scan", "bind"}, 0, "", "PROTO", -1},
		{"list from /proc files", []string{"--list", "--scan", "proc"}, 0, "", "CONTAINER", -1},
		{"missing capture", []string{"-d", db, "--pcap", filepath.Join(dir, "nope.pcap")}, 2, "nope.pcap", "", 0},
		{"not a capture", []string{"-d", db, "--pcap", text}, 2, "notes.pcap", "", 0},
		{"two captures", []string{"-d", db, "-r", "1", "--pcap", mixedFile, scanFile}, 0, "msg=\"collect run\"", "", 28},
		{"truncated capture", []string{"-d", db, "--pcap", cut}, 2, "cut.pcap damaged at byte", "", 28 + 9},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, collectCmd(t, c.args...))
			if r.code != c.code {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", r.code, c.code, r.stderr)
			}
			if !strings.Contains(r.stderr, c.stderr) || !strings.Contains(r.stdout, c.stdout) {
				t.Errorf("stdout %q, stderr %q; want them to contain %q and %q", r.stdout, r.stderr, c.stdout, c.stderr)
			}
			if c.code != 0 {
				if lines := strings.Count(strings.TrimSpace(errorLines(r.stderr)), "\n") + 1; lines != 1 {
					t.Errorf("error takes %d lines, want 1:\n%s", lines, r.stderr)
				}
			}
			_, statErr := os.Stat(db)
			switch {
			case c.wantFrames < 0 && statErr == nil:
				t.Errorf("database created, want none")
			case c.wantFrames >= 0:
				d := storetest.Open(t, db)
				storetest.Integrity(t, d)
				if got := storetest.Int(t, d, "SELECT count(*) FROM packets"); got != c.wantFrames {
					t.Errorf("packets = %d, want %d", got, c.wantFrames)
				}
			}
		})
	}
}

// errorLines keeps the lines of stderr that are not log records.
func errorLines(stderr string) string {
	var keep []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "collect: ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func TestJSONSummary(t *testing.T) {
	db := filepath.Join(t.TempDir(), "ports.db")
	r := run(t, collectCmd(t, "-d", db, "--log-format", "json", "--pcap", mixed(t)))
	if r.code != 0 {
		t.Fatalf("exit code %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 {
		t.Fatalf("stderr has %d lines, want one summary line:\n%s", len(lines), r.stderr)
	}
	var rec struct {
		Msg     string
		Summary struct{ Frames, Rounds int }
	}
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("summary line is not JSON: %v\n%s", err, lines[0])
	}
	if rec.Msg != "collect run" || rec.Summary.Frames != 18 || rec.Summary.Rounds < 1 {
		t.Errorf("summary = %+v, want msg \"collect run\", 18 frames, >= 1 round", rec)
	}
}

func TestSecondRunLocked(t *testing.T) {
	db := filepath.Join(t.TempDir(), "ports.db")
	lock, err := store.TryLock(db, collect.LockName) // this process plays the first collect
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	r := run(t, collectCmd(t, "-d", db, "-r", "1"))
	if r.code != 3 || !strings.Contains(r.stderr, "another run holds the lock") {
		t.Errorf("exit %d, stderr %q; want 3 and a lock message", r.code, r.stderr)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("locked run touched the database (stat: %v)", err)
	}
}

// startRound starts a live collect round and waits until its first scan is stored.
func startRound(t *testing.T, db string) *exec.Cmd {
	t.Helper()
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	cmd := collectCmd(t, "-d", db, "-r", "60", "--scan-interval", "200ms")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for range 600 {
		time.Sleep(50 * time.Millisecond)
		if scans(db) > 0 {
			return cmd
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	t.Fatalf("no scan stored within 30 s; stderr:\n%s", stderr.String())
	return nil
}

func scans(path string) int64 {
	return storetest.Peek(path, "SELECT coalesce(sum(scans), 0) FROM rounds")
}

func TestSIGTERMEndsRoundInterrupted(t *testing.T) {
	db := filepath.Join(t.TempDir(), "ports.db")
	cmd := startRound(t, db)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit code after SIGTERM = %d (%v), want 1", code, err)
	}
	d := storetest.Open(t, db)
	storetest.Integrity(t, d)
	var status string
	var end any
	if err := storetest.Raw(t, d).QueryRow("SELECT status, end_time FROM rounds").Scan(&status, &end); err != nil {
		t.Fatal(err)
	}
	if status != "interrupted" || end == nil {
		t.Errorf("round %s ending %v, want interrupted with an end time", status, end)
	}
}

func TestKilledRoundMarkedByNextRun(t *testing.T) {
	db := filepath.Join(t.TempDir(), "ports.db")
	cmd := startRound(t, db)
	cmd.Process.Kill() // SIGKILL: nothing runs after it
	cmd.Wait()
	r := run(t, collectCmd(t, "-d", db, "--pcap", mixed(t)))
	if r.code != 0 {
		t.Fatalf("next run exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "marked_interrupted=1") {
		t.Errorf("summary does not report the killed round: %s", r.stderr)
	}
	d := storetest.Open(t, db)
	storetest.Integrity(t, d)
	var status string
	var scans int
	var end any
	if err := storetest.Raw(t, d).QueryRow("SELECT status, scans, end_time FROM rounds WHERE source = 'live'").Scan(&status, &scans, &end); err != nil {
		t.Fatal(err)
	}
	if status != "interrupted" || scans < 1 || end == nil {
		t.Errorf("killed round: %s, %d scans, end %v; want interrupted, its scans kept, an end time", status, scans, end)
	}
}

// TestNoCapturePermission runs collect -p as user nobody, who lacks CAP_NET_RAW.
func TestNoCapturePermission(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run collect as another user")
	}
	// A copy of the test binary where nobody may run it.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // t.TempDir makes both 0700
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	exe = filepath.Join(dir, "collect")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "ports.db")
	asNobody := func(args ...string) *exec.Cmd {
		cmd := exec.Command(exe, args...)
		cmd.Env = append(os.Environ(), asCollect+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		return cmd
	}
	if err := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "test", "-x", exe).Run(); err != nil {
		t.Skipf("user nobody cannot run %s here (%v)", exe, err)
	}
	r := run(t, asNobody("-d", db, "-r", "1", "-p", "-i", "lo"))
	if r.code != 1 || !strings.Contains(r.stderr, "setcap cap_net_raw+ep") {
		t.Errorf("exit %d, stderr %q; want 1 and how to grant CAP_NET_RAW", r.code, r.stderr)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("refused capture left a database (stat: %v)", err)
	}
	r = run(t, asNobody("-d", db, "-r", "1", "--scan-interval", "200ms", "-p", "-i", "lo", "--best-effort"))
	if r.code != 0 || !strings.Contains(r.stderr, "level=WARN") {
		t.Fatalf("--best-effort: exit %d, stderr %q; want 0 and a warning", r.code, r.stderr)
	}
	// Read only: store.Open, as root, refuses a database nobody owns.
	if got := storetest.Peek(db, "SELECT count(*) FROM rounds WHERE status = 'complete' AND scans > 0"); got != 1 {
		t.Errorf("--best-effort stored %d complete rounds with scans, want 1", got)
	}
	fi, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database mode %o, want 600", fi.Mode().Perm())
	}
}

// TestKilledIngestLeavesSoundDatabase kills collect --pcap with SIGKILL in
// the middle of the 163,137-frame benchmark capture, after its first commit.
func TestKilledIngestLeavesSoundDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the 54 MB benchmark capture")
	}
	big := capturetest.Shared(t, "benchmark/mixed_real_traffic_merged.pcap")
	db := filepath.Join(t.TempDir(), "ports.db")
	cmd := collectCmd(t, "-d", db, "--pcap", big)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if storetest.Peek(db, "SELECT count(*) FROM packets") > 0 || cmd.ProcessState != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	kept := storetest.Peek(db, "SELECT count(*) FROM packets")
	if kept == 0 || kept == 163137 {
		t.Skipf("kill came before the first commit or after the end (%d packets stored); nothing to check", kept)
	}
	r := run(t, collectCmd(t, "-d", db, "--pcap", mixed(t)))
	if r.code != 0 {
		t.Fatalf("next run exit %d: %s", r.code, r.stderr)
	}
	d := storetest.Open(t, db)
	storetest.Integrity(t, d)
	if got := storetest.Int(t, d, "SELECT count(*) FROM packets"); got != kept+18 {
		t.Errorf("packets = %d, want the %d the killed run committed + 18", got, kept)
	}
	if got := storetest.Int(t, d, "SELECT count(*) FROM rounds WHERE status = 'running'"); got != 0 {
		t.Errorf("%d rounds still running after the next run", got)
	}
	if got := storetest.Int(t, d, "SELECT count(*) FROM rounds WHERE status = 'interrupted'"); got != 1 {
		t.Errorf("%d interrupted rounds, want the one the kill cut", got)
	}
}
