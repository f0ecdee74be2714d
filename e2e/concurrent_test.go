package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestConcurrentRuns runs collect, detect and cleanup on one database at
// the same time, cycle after cycle, as cron does when the hourly detect and
// the nightly cleanup start during a collect round. Each cycle starts a
// detect (it learns, then trains, then scores and refits, saving the model)
// and a cleanup that deletes nothing (--keep 100 years), and runs collects
// one after another meanwhile: 1 s live rounds and -r 1 ingests of three
// captures. During a live round a second collect starts and must exit 3,
// storing nothing. Every run must succeed without "database is locked".
//
// At the end every collect's rounds must be in the table once (per source,
// the rounds and frames its summaries reported), all complete, with a
// packets row per frame, each frame number of a capture stored once per
// ingest of it, and integrity_check must pass. Then a cleanup with
// --keep 1d must delete exactly the stale rounds (the captures are years
// old; live rounds and rounds an anomaly points at stay) with their rows.
func TestConcurrentRuns(t *testing.T) {
	slow(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "ports.db")
	caps := newCaptures(t)
	wantRounds := map[string]int{}
	wantFrames := map[string]int64{}
	runs := map[string]int64{}
	tally := func(source string, s summary) {
		wantRounds[source] += s.Rounds
		wantFrames[source] += s.Frames
		runs[source]++
	}
	tally("pcap:"+filepath.Base(caps.tiny), collect(t, db, "-r", "60", "--pcap", caps.tiny))

	jobs := []struct {
		source string
		args   []string
	}{
		{"live", []string{"-r", "1", "--scan-interval", "200ms"}},
		{"pcap:" + filepath.Base(caps.scan), []string{"-r", "1", "--pcap", caps.scan}},
		{"pcap:" + filepath.Base(caps.mixed), []string{"-r", "1", "--pcap", caps.mixed}},
		{"pcap:" + filepath.Base(caps.mixedNg), []string{"-r", "1", "--pcap", caps.mixedNg}},
	}
	const cycles, collectsPerCycle = 10, 6
	var collects, excluded, detects, learning int
	for cycle := range cycles {
		det := start(t, command("detect", "-d", db, "--min-rounds", "4"))
		cln := start(t, command("cleanup", "-d", db, "--keep", "36500d", "--keep-packets", "36500d")) // the captures are years old: keep their packets too
		detDone, clnDone := det.async(), cln.async()
		var detRes, clnRes *outcome
		for i := 0; i < collectsPerCycle && (detRes == nil || clnRes == nil); i++ {
			job := jobs[collects%len(jobs)]
			collects++
			n := len(roundsOnly(t, db))
			if job.source != "live" {
				forgetCaptures(t, db) // each run ingests its capture anew, beside detect and cleanup
			}
			p := start(t, command("collect", append([]string{"-d", db, "--log-format", "json"}, job.args...)...))
			if job.source == "live" {
				// The live round commits its row at once, holding collect's
				// lock for the rest of its second.
				waitRounds(t, db, n, p.started.Add(5*time.Second))
				second := run(t, command("collect", "-d", db, "--log-format", "json", "-r", "60", "--pcap", caps.tiny))
				if second.code != 3 {
					t.Errorf("cycle %d: a second collect during a live round: %s, want exit 3 (locked)", cycle, second)
				} else if _, err := errorLine("collect", second); err != nil {
					t.Error(err)
				}
				excluded++
			}
			r, err := p.wait()
			if err != nil {
				t.Fatal(err)
			}
			if r.code != 0 {
				t.Fatalf("cycle %d: collect %v: %s, want exit 0", cycle, job.args, r)
			}
			noBusy(t, "collect", r)
			s, err := collectSummary(r.stderr)
			if err != nil {
				t.Fatal(err)
			}
			tally(job.source, s)
			detRes, clnRes = poll(detDone, detRes), poll(clnDone, clnRes)
		}
		if detRes == nil {
			o := <-detDone
			detRes = &o
		}
		if clnRes == nil {
			o := <-clnDone
			clnRes = &o
		}
		for _, o := range []struct {
			name string
			*outcome
		}{{"detect", detRes}, {"cleanup", clnRes}} {
			if o.err != nil {
				t.Fatal(o.err)
			}
			if o.r.code != 0 {
				t.Fatalf("cycle %d: %s beside collect: %s, want exit 0", cycle, o.name, o.r)
			}
			noBusy(t, o.name, o.r)
		}
		if n, err := cleanupDeleted(clnRes.r.stdout); err != nil || n != 0 {
			t.Errorf("cycle %d: cleanup --keep 36500d deleted %d rounds (%v), want 0: %s", cycle, n, err, clnRes.r)
		}
		detects++
		if strings.HasPrefix(detRes.r.stdout, "learning:") {
			learning++
		}
		t.Logf("cycle %d: %d collects so far; detect: %q", cycle, collects, lastLine(detRes.r.stdout))
	}
	t.Logf("%d cycles: %d collects (%d of them overlapped by a second collect, excluded), %d detects (%d still learning), %d cleanups",
		cycles, collects, excluded, detects, learning, cycles)

	got := rounds(t, db)
	checkIntegrity(t, db)
	gotRounds := map[string]int{}
	gotFrames := map[string]int64{}
	for id, r := range got {
		gotRounds[r.Source]++
		gotFrames[r.Source] += r.Frames
		if r.Status != "complete" {
			t.Errorf("round %d (%s): status %q, want complete", id, r.Source, r.Status)
		}
		if r.Packets != r.Frames {
			t.Errorf("round %d (%s): %d packets rows, want its %d frames", id, r.Source, r.Packets, r.Frames)
		}
	}
	for source, n := range wantRounds {
		if gotRounds[source] != n || gotFrames[source] != wantFrames[source] {
			t.Errorf("source %s: got %d rounds with %d frames, want %d with %d as collect reported",
				source, gotRounds[source], gotFrames[source], n, wantFrames[source])
		}
	}
	if len(gotRounds) != len(wantRounds) {
		t.Errorf("got rounds from %d sources %v, want %d %v", len(gotRounds), gotRounds, len(wantRounds), wantRounds)
	}
	h := openDB(t, db)
	// Each ingest stores frames 1..N of its file once: every frame number
	// of a capture is there as many times as the capture was ingested.
	for source, n := range runs {
		if source == "live" {
			continue
		}
		const frames = "SELECT p.frame, count(*) AS c FROM packets p JOIN rounds r ON r.id = p.round_id WHERE r.source = ? GROUP BY p.frame"
		if odd := queryInt(t, h, "SELECT count(*) FROM ("+frames+") WHERE c != ?", source, n); odd != 0 {
			t.Errorf("source %s: %d frame numbers stored other than once per each of its %d ingests", source, odd, n)
		}
		if got := queryInt(t, h, "SELECT count(*) FROM ("+frames+")", source) * n; got != wantFrames[source] {
			t.Errorf("source %s: %d distinct frames x %d ingests = %d, want the %d collect reported", source, got/n, n, got, wantFrames[source])
		}
	}
	if n := queryInt(t, h, "SELECT count(DISTINCT round_id) FROM batches_rounds"); n == 0 {
		t.Errorf("detect scored no round in %d runs", detects)
	}
	modelLoads(t, filepath.Join(dir, "portae.onnx"))

	// The stale rounds: every capture's, unless an anomaly points at it.
	anomalous := map[int64]bool{}
	rows, err := h.Query("SELECT round_id FROM anomalies WHERE round_id IS NOT NULL")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		anomalous[id] = true
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	h.Close()
	keep := map[int64]round{}
	for id, r := range got {
		if r.Source == "live" || anomalous[id] {
			keep[id] = r
		}
	}
	r := mustRun(t, "cleanup", "-d", db, "--keep", "1d")
	if n, err := cleanupDeleted(r.stdout); err != nil || n != len(got)-len(keep) {
		t.Errorf("cleanup --keep 1d: deleted %d rounds (%v), want the %d stale ones: %s", n, err, len(got)-len(keep), r)
	}
	left := rounds(t, db)
	checkIntegrity(t, db)
	t.Logf("cleanup --keep 1d: %d of %d rounds left (%d live, %d with anomalies)", len(left), len(got), gotRounds["live"], len(anomalous))
	checkKept(t, "cleanup --keep 1d", keep, left)
	if len(left) != len(keep) {
		t.Errorf("cleanup --keep 1d left %d rounds, want %d (%d live, %d with anomalies)",
			len(left), len(keep), gotRounds["live"], len(anomalous))
	}
	h = openDB(t, db)
	defer h.Close()
	for _, table := range []string{"packets", "rounds_ports", "batches_rounds"} {
		if n := queryInt(t, h, "SELECT count(*) FROM "+table+" WHERE round_id NOT IN (SELECT id FROM rounds)"); n != 0 {
			t.Errorf("cleanup --keep 1d left %d %s rows of deleted rounds, want 0", n, table)
		}
	}
}

// outcome is how a background run ended.
type outcome struct {
	r   result
	err error
}

// async waits for p in a goroutine and sends how it ended.
func (p *proc) async() <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		r, err := p.wait()
		ch <- outcome{r, err}
	}()
	return ch
}

// poll returns o if set, else what ch has ready, else nil.
func poll(ch <-chan outcome, o *outcome) *outcome {
	if o != nil {
		return o
	}
	select {
	case got := <-ch:
		return &got
	default:
		return nil
	}
}

// noBusy fails the test if a run met SQLite's busy error.
func noBusy(t *testing.T, prog string, r result) {
	t.Helper()
	for _, s := range []string{"database is locked", "SQLITE_BUSY", "database table is locked"} {
		if strings.Contains(r.stderr, s) || strings.Contains(r.stdout, s) {
			t.Errorf("%s met %q: %s", prog, s, r)
		}
	}
}

var deletedRounds = regexp.MustCompile(`^cleanup: deleted (\d+) rounds`)

// cleanupDeleted reads the rounds cleanup's summary line says it deleted.
func cleanupDeleted(stdout string) (int, error) {
	m := deletedRounds.FindStringSubmatch(stdout)
	if m == nil {
		return -1, fmt.Errorf("no summary line in cleanup's output %q", stdout)
	}
	return strconv.Atoi(m[1])
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}
