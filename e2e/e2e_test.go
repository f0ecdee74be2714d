package e2e

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"portwatch/internal/eval/scenario"
	"portwatch/pkg/store"
)

var seedFlag = flag.Uint64("seed", 0, "seed for random kill delays (0: from the clock)")

// binDir holds the binaries TestMain built; empty under -short.
var binDir string

// Captures from shared/pcaps, relative to this package's directory.
const (
	pcapDir = "../../shared/pcaps/"
	// 9,924 frames over 56 s of capture time: 40 rounds at -r 1.
	connectScan = pcapDir + "scans/evilfingers_nmap_tcp_connect_scan.pcap"
	// 11 frames: a quick run, for a "next run" after a fault.
	tinyScan = pcapDir + "scans/esnet_nmap_80_vanilla.pcap"
	sshBrute = pcapDir + "attacks/slips_ssh_bruteforce.pcap"
	botnet   = pcapDir + "attacks/ndpi_bot.pcap"
	// 163,137 frames, 54 MiB: ingest commits every 65,536 frames.
	benchmark = pcapDir + "benchmark/mixed_real_traffic_merged.pcap"
)

// nobody is the unprivileged user the read-only tests run binaries as:
// root writes a 0400 file anyway.
const nobody = 65534

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if testing.Short() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "portwatch-e2e-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Mode 0755, so the binaries also run as nobody.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/collect", "./cmd/detect", "./cmd/cleanup")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build: %v\n%s", err, out)
		return 1
	}
	binDir = dir
	return m.Run()
}

// slow skips t under -short: every test here runs the binaries many times.
func slow(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: runs the real binaries; skipped under -short")
	}
}

// newRand returns the test's random source and logs its seed.
func newRand(t *testing.T) *rand.Rand {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -seed %d)", seed, seed)
	return rand.New(rand.NewPCG(seed, 0))
}

// result is how a run of a binary ended.
type result struct {
	code           int
	stdout, stderr string
	killed         bool // ended by our SIGKILL
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// proc is a binary running in the background.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	started        time.Time
	res            *result
}

// command returns the command running binary prog with args.
func command(prog string, args ...string) *exec.Cmd {
	return exec.Command(filepath.Join(binDir, prog), args...)
}

// asNobody makes cmd run as the user nobody.
func asNobody(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	return cmd
}

// start starts cmd; the test's end kills it if it still runs, so no test
// leaves a process behind.
func start(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{cmd: cmd}
	cmd.Stdout, cmd.Stderr = &p.stdout, &p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd, err)
	}
	p.started = time.Now()
	t.Cleanup(func() {
		if p.res == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// runTimeout bounds every run; the slowest (a training) takes seconds.
const runTimeout = 2 * time.Minute

// wait waits for p to end, killing it after runTimeout.
func (p *proc) wait() (result, error) {
	if p.res != nil {
		return *p.res, nil
	}
	timer := time.AfterFunc(runTimeout-time.Since(p.started), func() { p.cmd.Process.Kill() })
	err := p.cmd.Wait()
	timer.Stop()
	r := result{stdout: p.stdout.String(), stderr: p.stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() && st.Signal() == syscall.SIGKILL {
			r.killed = true
		}
	default:
		return r, fmt.Errorf("wait for %s: %w", p.cmd, err)
	}
	p.res = &r
	if r.killed && time.Since(p.started) >= runTimeout {
		return r, fmt.Errorf("%s: still running after %v: %s", p.cmd, runTimeout, r)
	}
	return r, nil
}

// kill sends SIGKILL to p and waits for it.
func (p *proc) kill() (result, error) {
	p.cmd.Process.Signal(syscall.SIGKILL)
	return p.wait()
}

// run runs cmd to its end.
func run(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	r, err := start(t, cmd).wait()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// mustRun runs binary prog with args and fails the test unless it exits 0.
func mustRun(t *testing.T, prog string, args ...string) result {
	t.Helper()
	r := run(t, command(prog, args...))
	if r.code != 0 {
		t.Fatalf("%s %s: %s, want exit 0", prog, strings.Join(args, " "), r)
	}
	return r
}

// summary is collect's "collect run" log record, read with --log-format json.
type summary struct {
	Rounds            int   `json:"rounds"`
	MarkedInterrupted int64 `json:"marked_interrupted"`
	Frames            int64 `json:"frames"`
}

// collectSummary finds collect's summary in its stderr.
func collectSummary(stderr string) (summary, error) {
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		var rec struct {
			Msg     string  `json:"msg"`
			Summary summary `json:"summary"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "collect run" {
			return rec.Summary, nil
		}
	}
	return summary{}, fmt.Errorf("no collect run summary in stderr %q", stderr)
}

// collect runs collect with --log-format json and returns its summary,
// failing the test unless it exits 0.
func collect(t *testing.T, db string, args ...string) summary {
	t.Helper()
	r := mustRun(t, "collect", append([]string{"-d", db, "--log-format", "json"}, args...)...)
	s, err := collectSummary(r.stderr)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// history writes n complete minute rounds of a generated host (pkg/scenario)
// into the new database db through the real store: the scanned history
// detect learns from (capture rounds have no socket table and do not count),
// made in milliseconds instead of n minutes of collect. The last hold rounds
// stay running, as if collect had not finished them: release completes them.
func history(t *testing.T, db string, n, hold int) {
	t.Helper()
	tl, err := scenario.Generate(scenario.Config{Seed: 7, TestDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	tl.Rounds = tl.Rounds[:n]
	ctx := context.Background()
	d, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := tl.Write(ctx, d); err != nil {
		t.Fatalf("write history into %s: %v", db, err)
	}
	if err := d.SetStatus(ctx, int64(n-hold)+1, math.MaxInt64, store.Running); err != nil {
		t.Fatal(err)
	}
}

// release completes the rounds history held back (a collect run in between
// marks them interrupted): normal rounds for detect to score and refit on.
func release(t *testing.T, db string) {
	t.Helper()
	d, err := sql.Open("sqlite3", db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Exec(`UPDATE rounds SET status = 'complete' WHERE source = ? AND status <> 'complete'`, scenario.Source); err != nil {
		t.Fatalf("release held rounds: %v", err)
	}
}

// liveRound runs one short live collect round: a new scanned round for
// detect to score.
func liveRound(t *testing.T, db string) summary {
	t.Helper()
	return collect(t, db, "-r", "1", "--scan-interval", "200ms")
}

// errorLine returns the error a failed run of prog printed: its stderr
// apart from log records must be exactly one line, "prog: ...", as
// package command prints it.
func errorLine(prog string, r result) (string, error) {
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(r.stderr, "\n"), "\n") {
		if !strings.HasPrefix(l, "time=") && !strings.HasPrefix(l, "{") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], prog+": ") {
		return "", fmt.Errorf("%s printed %d lines besides its log, want one error line %q: %s", prog, len(lines), prog+": ...", r)
	}
	return lines[0], nil
}

// openDB opens the database at path for the test's checks. It only reads;
// it never migrates or writes, unlike store.Open.
func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	// One connection, closed at the end of each check, so no reader of ours
	// holds back a checkpoint or cleanup's WAL truncation between checks.
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// queryInt runs a query returning one integer.
func queryInt(t *testing.T, db *sql.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// checkIntegrity fails the test unless the database at path passes
// integrity_check and foreign_key_check.
func checkIntegrity(t *testing.T, path string) {
	t.Helper()
	db := openDB(t, path)
	defer db.Close()
	var got string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&got); err != nil {
		t.Fatalf("integrity_check %s: %v", path, err)
	}
	if got != "ok" {
		t.Errorf("integrity_check %s = %q, want ok", path, got)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM pragma_foreign_key_check"); n != 0 {
		t.Errorf("foreign_key_check %s: got %d violations, want 0", path, n)
	}
}

// round is what a round holds, as the checks compare it.
type round struct {
	Status, Source string
	Frames         int64 // rounds.frames: frames the round read
	Ports, Packets int64 // its rounds_ports and packets rows
}

// rounds returns every round of the database at path by id.
func rounds(t *testing.T, path string) map[int64]round {
	t.Helper()
	return readRounds(t, path, `SELECT id, status, source, frames,
		(SELECT count(*) FROM rounds_ports WHERE round_id = r.id),
		(SELECT count(*) FROM packets WHERE round_id = r.id)
		FROM rounds r`)
}

// roundsOnly returns every round without counting its rows (-1), which
// is quick enough to take just before a kill.
func roundsOnly(t *testing.T, path string) map[int64]round {
	t.Helper()
	return readRounds(t, path, "SELECT id, status, source, frames, -1, -1 FROM rounds")
}

func readRounds(t *testing.T, path, query string) map[int64]round {
	t.Helper()
	db := openDB(t, path)
	defer db.Close()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("read rounds of %s: %v", path, err)
	}
	defer rows.Close()
	m := map[int64]round{}
	for rows.Next() {
		var id int64
		var r round
		if err := rows.Scan(&id, &r.Status, &r.Source, &r.Frames, &r.Ports, &r.Packets); err != nil {
			t.Fatalf("read rounds of %s: %v", path, err)
		}
		m[id] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read rounds of %s: %v", path, err)
	}
	return m
}

// checkKept fails the test unless every complete round of before is in
// after unchanged, rows and all where before counted them.
func checkKept(t *testing.T, when string, before, after map[int64]round) {
	t.Helper()
	for id, b := range before {
		if b.Status != "complete" {
			continue
		}
		a, ok := after[id]
		if ok && b.Packets < 0 {
			a.Ports, a.Packets = b.Ports, b.Packets
		}
		if !ok {
			t.Errorf("%s: complete round %d (%+v) is gone", when, id, b)
		} else if a != b {
			t.Errorf("%s: round %d: got %+v, want %+v as before", when, id, a, b)
		}
	}
}

// countStatus counts the rounds of m with status s.
func countStatus(m map[int64]round, s string) int {
	n := 0
	for _, r := range m {
		if r.Status == s {
			n++
		}
	}
	return n
}

// mount mounts a tmpfs of size (e.g. "4m") at a new directory and unmounts
// it when the test ends; it skips the test when mounting is not permitted.
func mount(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root with CAP_SYS_ADMIN): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// remount remounts the tmpfs at dir with opts ("ro" or "rw").
func remount(t *testing.T, dir, opts string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+opts, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s %s: %v: %s", dir, opts, err, out)
	}
}

// modelLoads fails the test unless `detect model info` reads the model file.
func modelLoads(t *testing.T, path string) {
	t.Helper()
	if r := run(t, command("detect", "model", "info", path)); r.code != 0 {
		t.Errorf("detect model info %s: %s, want exit 0", path, r)
	}
}

// tempModels lists the model save's temporary files in dir.
func tempModels(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".*.tmp*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sinceEpoch is a --from that covers every capture in shared/pcaps, so
// detect trains on pcap rounds whatever their capture date.
const sinceEpoch = "2000-01-01T00:00:00Z"
