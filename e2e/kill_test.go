package e2e

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestKillCollect kills collect with SIGKILL at random moments of three
// kinds of run, each kind on its own database that the trials share:
//   - live: a 1 s round of scans every 200 ms, committed at its start, so a
//     kill leaves it running;
//   - pcap: a 9,924-frame ingest, one transaction, so a kill leaves all of
//     it or nothing;
//   - bench: the 163,137-frame benchmark capture cut at 70,000 frames, which
//     commits once at 65,536 frames with a round still running.
//
// The first run of each kind is not killed: it stores complete rounds and
// times the kind, and later kills fall at a uniform random delay below
// that time. Just before each kill the test reads the rounds; after it,
// integrity_check must pass and every round complete before the run or at
// the kill must be there with all its rows. Then the next collect (an
// 11-frame ingest) must mark exactly the rounds left running interrupted.
func TestKillCollect(t *testing.T) {
	slow(t)
	rnd := newRand(t)
	kinds := []struct {
		name   string
		args   []string
		trials int
	}{
		{"live", []string{"-r", "1", "--scan-interval", "200ms"}, 20},
		{"pcap", []string{"-r", "1", "--pcap", connectScan}, 20},
		{"bench", []string{"-r", "60", "--max-packets", "70000", "--pcap", benchmark}, 10},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "ports.db")
			// The unkilled first run: what one run stores, and how long it takes.
			began := time.Now()
			full := collect(t, db, k.args...)
			took := time.Since(began)
			if full.Rounds == 0 {
				t.Fatalf("collect %v stored no round", k.args)
			}
			t.Logf("unkilled run: %d rounds, %d frames in %v", full.Rounds, full.Frames, took)
			var killed, finished, interrupted int
			for trial := range k.trials {
				delay := time.Duration(rnd.Int64N(int64(took)))
				before := rounds(t, db)
				p := start(t, command("collect", append([]string{"-d", db, "--log-format", "json"}, k.args...)...))
				time.Sleep(time.Until(p.started.Add(delay)))
				atKill := rounds(t, db)
				r, err := p.kill()
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case r.killed:
					killed++
				case r.code == 0:
					finished++
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
				s := collect(t, db, "-r", "60", "--pcap", tinyScan)
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
				t.Logf("trial %d: kill after %v: killed %v, rounds %d -> %d, left running %v",
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
