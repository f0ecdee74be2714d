package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestKillDetectDuringSave kills `detect --train` (train, score, save the
// model) with SIGKILL: most trials while the model file is being saved
// (from when its temporary file appears, within the save's measured
// length, shortened by a third whenever a run ends first), the rest at any
// moment of the run. After each kill the model
// file, and its .prev when there is one, must load (`detect model info`)
// and the database must pass integrity_check. At the end a temporary file
// a kill left behind may stay only if the next runs ignore it: a training
// and a cron run must still succeed and save a loadable model.
func TestKillDetectDuringSave(t *testing.T) {
	slow(t)
	rnd := newRand(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "ports.db")
	model := filepath.Join(dir, "portae.onnx")
	history(t, db, 40, 0)
	train := []string{"-d", db, "--train", "--from", sinceEpoch, "--min-rounds", "10"}

	// An unkilled training: the first model, how long a run takes, and how
	// long its save's temporary file lives.
	p := start(t, command("detect", train...))
	appeared := waitTemps(t, dir, func(n int) bool { return n > 0 }, p.started.Add(runTimeout))
	gone := waitTemps(t, dir, func(n int) bool { return n == 0 }, p.started.Add(runTimeout))
	if r, err := p.wait(); err != nil || r.code != 0 {
		t.Fatalf("detect %v: %s (%v), want exit 0", train, r, err)
	}
	took := time.Since(p.started)
	if appeared.IsZero() || gone.IsZero() {
		t.Fatalf("saw no temporary model file come and go in %s during a training", dir)
	}
	save := gone.Sub(appeared)
	t.Logf("unkilled training: %v, of which %v with the temporary model file", took, save)
	modelLoads(t, model)

	const trials = 10
	var inSave, killed int
	for trial := range trials {
		p := start(t, command("detect", train...))
		during := trial%5 != 4 // four of five trials aim at the save
		var delay time.Duration
		if during {
			delay = time.Duration(rnd.Int64N(int64(save + save/5 + 1)))
			// Earlier kills may have left temporary files: wait for one more.
			base := len(tempModels(t, dir))
			from := waitTemps(t, dir, func(n int) bool { return n > base }, p.started.Add(2*took+time.Second))
			time.Sleep(time.Until(from.Add(delay)))
		} else {
			delay = time.Duration(rnd.Int64N(int64(took)))
			time.Sleep(time.Until(p.started.Add(delay)))
		}
		temps := len(tempModels(t, dir))
		r, err := p.kill()
		if err != nil {
			t.Fatal(err)
		}
		if !r.killed && r.code != 0 {
			t.Fatalf("trial %d: detect failed before the kill: %s", trial, r)
		}
		if r.killed {
			killed++
		} else if during {
			// The save is quicker than the one measured: aim earlier.
			save -= save / 3
		}
		if r.killed && during && temps > 0 {
			inSave++
		}
		modelLoads(t, model)
		if _, err := os.Stat(model + ".prev"); err == nil {
			modelLoads(t, model+".prev")
		}
		checkIntegrity(t, db)
		t.Logf("trial %d: aimed at the save %v, delay %v: killed %v; temporary files now %d",
			trial, during, delay, r.killed, len(tempModels(t, dir)))
		if t.Failed() {
			t.FailNow()
		}
	}
	left := tempModels(t, dir)
	t.Logf("%d trials: %d killed, %d of them during the save; %d temporary model files left: %v",
		trials, killed, inSave, len(left), left)
	if inSave == 0 {
		t.Errorf("no kill landed while the temporary model file existed; the test missed the save")
	}

	// The next runs: a training and a cron run must not trip on leftovers.
	mustRun(t, "detect", train...)
	modelLoads(t, model)
	liveRound(t, db)
	mustRun(t, "detect", "-d", db, "--min-rounds", "10")
	modelLoads(t, model)
	checkIntegrity(t, db)
	if after := tempModels(t, dir); len(after) > len(left) {
		t.Errorf("unkilled runs left %d temporary model files, want at most the %d kills left", len(after), len(left))
	}
}

// waitTemps polls dir every millisecond until the number of temporary
// model files in it satisfies ok, and returns when; zero at the deadline.
func waitTemps(t *testing.T, dir string, ok func(n int) bool, deadline time.Time) time.Time {
	t.Helper()
	for time.Now().Before(deadline) {
		if ok(len(tempModels(t, dir))) {
			return time.Now()
		}
		time.Sleep(time.Millisecond)
	}
	return time.Time{}
}
