package e2e

import (
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestKillCollect kills collect with SIGKILL at random moments of four
// kinds of run, each kind on its own database that the trials share:
//   - live: a 1 s round of scans every 200 ms, committed at its start, so a
//     kill leaves it running;
//   - live+packets: the same capturing on loopback, with traffic the test
//     sends there;
//   - pcap: a 10,000-frame ingest, one transaction, so a kill leaves all of
//     it or nothing;
//   - bench: a 120,000-frame generated scan cut at 100,000 frames, which
//     commits once at 65,536 frames with a round still running.
//
// The first two runs of each kind are not killed: they store complete
// rounds and time the kind. Each later kill falls at a uniform random delay
// within that time, from the run's start or, for bench, from when its
// commit shows; the time shrinks by a tenth whenever a run ends before its
// kill (runs get quicker once the database exists, slower under load). Just
// before each kill the test reads the rounds table. After it,
// integrity_check must pass, every round complete before the run must be
// there with all its rows, every round complete at the kill must be there
// with a packets row per frame, and the next collect (a 10-frame ingest)
// must mark exactly the rounds left running interrupted.
func TestKillCollect(t *testing.T) {
	slow(t)
	caps := newCaptures(t)
	rnd := newRand(t)
	// Kills fall at a uniform random delay below window times the unkilled
	// run's length, from the run's start or, with afterCommit, from when its
	// first commit shows (new rounds in the table).
	kinds := []struct {
		name        string
		args        []string
		trials      int
		afterCommit bool
		window      float64
	}{
		{"live", []string{"-r", "1", "--scan-interval", "200ms"}, 15, false, 0.9},
		// Capture on loopback, where loopbackTraffic sends: packets are
		// batched and committed every second.
		{"live+packets", []string{"-r", "1", "--scan-interval", "200ms", "-p", "-i", "lo"}, 15, false, 0.9},
		{"pcap", []string{"-r", "1", "--pcap", caps.scan}, 15, false, 0.8},
		// The commit at 65,536 of 100,000 frames leaves a third of the run.
		{"bench", []string{"-r", "60", "--max-packets", "100000", "--pcap", caps.big(t)}, 10, true, 0.3},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "ports.db")
			if slices.Contains(k.args, "-p") {
				loopbackTraffic(t)
			}
			// Two unkilled runs: the first creates the database, the second
			// says what one run stores and how long it takes.
			collect(t, db, k.args...)
			// Each run ingests its capture anew: a capture ingested before is
			// resumed or skipped (TestKillReingest tests that).
			forgetCaptures(t, db)
			began := time.Now()
			full := collect(t, db, k.args...)
			took := time.Since(began)
			if full.Rounds == 0 {
				t.Fatalf("collect %v stored no round", k.args)
			}
			t.Logf("unkilled run: %d rounds, %d frames in %v", full.Rounds, full.Frames, took)
			var killed, finished, interrupted int
			for trial := range k.trials {
				delay := time.Duration(rnd.Int64N(int64(k.window * float64(took))))
				forgetCaptures(t, db)
				before := rounds(t, db)
				p := start(t, command("collect", append([]string{"-d", db, "--log-format", "json"}, k.args...)...))
				from := p.started
				if k.afterCommit {
					from = waitRounds(t, db, len(before), p.started.Add(2*took+time.Second))
				}
				time.Sleep(time.Until(from.Add(delay)))
				atKill := roundsOnly(t, db)
				r, err := p.kill()
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case r.killed:
					killed++
				case r.code == 0:
					finished++
					took -= took / 10
				default:
					t.Fatalf("trial %d (kill after %v): collect failed before the kill: %s", trial, delay, r)
				}
				after := rounds(t, db)
				checkIntegrity(t, db)
				checkKept(t, "before the run", before, after)
				checkKept(t, "at the kill", atKill, after)
				checkNew(t, k.name, full, before, after)

				// The next run marks what the kill left running, and nothing else.
				running := runningIDs(after)
				s := collect(t, db, "-r", "60", "--pcap", caps.tiny)
				if s.MarkedInterrupted != int64(len(running)) {
					t.Errorf("trial %d: next collect marked %d rounds interrupted, want %d (left running: %v)",
						trial, s.MarkedInterrupted, len(running), running)
				}
				next := rounds(t, db)
				for _, id := range running {
					if got := next[id].Status; got != "interrupted" {
						t.Errorf("trial %d: round %d left running by the kill: status %q after the next run, want interrupted", trial, id, got)
					}
				}
				if n := countStatus(next, "running"); n != 0 {
					t.Errorf("trial %d: %d rounds running after the next run, want 0", trial, n)
				}
				interrupted += len(running)
				t.Logf("trial %d: kill delay %v: killed %v, rounds %d -> %d, left running %v",
					trial, delay, r.killed, len(before), len(after), running)
				if t.Failed() {
					t.FailNow() // the next trials would only repeat the failure
				}
			}
			t.Logf("%s: %d trials: %d killed, %d finished before the kill; %d rounds left running and marked interrupted",
				k.name, k.trials, killed, finished, interrupted)
			if killed < k.trials/2 {
				t.Errorf("%s: only %d of %d trials killed a running collect; the delays miss the run", k.name, killed, k.trials)
			}
		})
	}
}

// checkNew checks the rounds a killed run of kind added: a complete round
// holds a packets row per frame; at most one round (the one in progress)
// is running; an ingest in one transaction (pcap) is all there or absent.
func checkNew(t *testing.T, kind string, full summary, before, after map[int64]round) {
	t.Helper()
	var added, running int
	var frames int64
	for id, r := range after {
		if _, ok := before[id]; ok {
			continue
		}
		added++
		frames += r.Frames
		switch r.Status {
		case "running":
			running++
		case "complete":
			if r.Packets != r.Frames {
				t.Errorf("new complete round %d: %d packets rows, want its %d frames", id, r.Packets, r.Frames)
			}
		default:
			t.Errorf("new round %d: status %q, want running or complete", id, r.Status)
		}
	}
	if running > 1 {
		t.Errorf("%d new rounds running, want at most 1", running)
	}
	if kind == "pcap" && added != 0 && (added != full.Rounds || frames != full.Frames || running != 0) {
		t.Errorf("killed one-transaction ingest left %d rounds (%d running) with %d frames, want none or all %d complete with %d",
			added, running, frames, full.Rounds, full.Frames)
	}
}

// runningIDs returns the ids of m's running rounds, sorted.
// forgetCaptures deletes the database's record of the captures it ingested.
func forgetCaptures(t *testing.T, path string) {
	t.Helper()
	db := openDB(t, path)
	defer db.Close()
	if _, err := db.Exec("DELETE FROM captures"); err != nil {
		t.Fatalf("forget captures of %s: %v", path, err)
	}
}

func runningIDs(m map[int64]round) []int64 {
	var ids []int64
	for id, r := range m {
		if r.Status == "running" {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// waitRounds polls the database at path until it holds more than n rounds,
// or until deadline, and returns when that was.
func waitRounds(t *testing.T, path string, n int, deadline time.Time) time.Time {
	t.Helper()
	db := openDB(t, path)
	defer db.Close()
	for time.Now().Before(deadline) && queryInt(t, db, "SELECT count(*) FROM rounds") <= int64(n) {
		time.Sleep(5 * time.Millisecond)
	}
	return time.Now()
}

// loopbackTraffic sends a UDP datagram to a socket of its own on
// 127.0.0.1 every 2 ms until the test ends, for live capture on lo.
func loopbackTraffic(t *testing.T) {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() {
		close(stop)
		<-done
		conn.Close()
	})
	go func() {
		defer close(done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		msg := []byte("portwatch e2e")
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				conn.WriteToUDP(msg, conn.LocalAddr().(*net.UDPAddr))
			}
		}
	}()
}
