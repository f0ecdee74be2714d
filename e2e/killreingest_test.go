package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKillReingest kills collect -9 during the ingest of a capture, after
// its first commit, and runs the same ingest again: the frames committed
// before the kill are not stored twice, and rounds and traffic summaries
// come out as one clean ingest's. A third run ingests nothing.
func TestKillReingest(t *testing.T) {
	slow(t)
	caps := newCaptures(t)
	big := caps.big(t) // 120,000 frames: commits at 65,536
	args := []string{"-r", "60", "--pcap", big}
	cleanDB := filepath.Join(t.TempDir(), "clean.db")
	clean := collect(t, cleanDB, args...)
	want := trafficRows(t, cleanDB)

	for trial := range 3 {
		db := filepath.Join(t.TempDir(), "ports.db")
		p := start(t, command("collect", append([]string{"-d", db, "--log-format", "json"}, args...)...))
		deadline := time.Now().Add(runTimeout)
		for committed(t, db) == 0 && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		time.Sleep(time.Duration(trial) * 20 * time.Millisecond)
		r, err := p.kill()
		if err != nil {
			t.Fatal(err)
		}
		atKill := committed(t, db)
		if !r.killed || atKill == 0 {
			t.Fatalf("trial %d: collect not killed after a commit (killed %v, %d frames committed): %s", trial, r.killed, atKill, r)
		}
		again := collect(t, db, args...)
		if again.MarkedInterrupted != 1 || again.Frames != clean.Frames-atKill {
			t.Errorf("trial %d: re-ingest marked %d rounds interrupted and stored %d frames, want 1 and %d-%d",
				trial, again.MarkedInterrupted, again.Frames, clean.Frames, atKill)
		}
		checkIntegrity(t, db)
		check := openDB(t, db)
		if n, d := queryInt(t, check, "SELECT count(*) FROM packets"), queryInt(t, check, "SELECT count(DISTINCT frame) FROM packets"); n != clean.Frames || d != n {
			t.Errorf("trial %d: %d packets (%d distinct frames), want the file's %d once each", trial, n, d, clean.Frames)
		}
		check.Close()
		if got := trafficRows(t, db); got != want {
			t.Errorf("trial %d: rounds and traffic summaries differ from a clean ingest:\n%s\nwant\n%s", trial, got, want)
		}
		if third := collect(t, db, args...); third.Frames != 0 || third.Rounds != 0 {
			t.Errorf("trial %d: a third ingest of the complete capture stored %d frames in %d rounds, want none", trial, third.Frames, third.Rounds)
		}
		t.Logf("trial %d: killed at %d committed frames; re-ingest stored %d", trial, atKill, again.Frames)
	}
}

// committed is how many frames the captures table says are stored; 0 while
// the database or the table does not exist yet.
func committed(t *testing.T, path string) int64 {
	db := openDB(t, path)
	defer db.Close()
	var n int64
	if db.QueryRow("SELECT coalesce(max(frames_committed), 0) FROM captures").Scan(&n) != nil {
		return 0
	}
	return n
}

// trafficRows are a database's rounds with their summaries, as text.
func trafficRows(t *testing.T, path string) string {
	t.Helper()
	db := openDB(t, path)
	defer db.Close()
	rows, err := db.Query(`SELECT r.start_time, r.status, r.frames, t.packets, t.sources,
		(SELECT count(*) FROM traffic_ports p WHERE p.round_id = r.id), (SELECT sum(syns) FROM traffic_ports p WHERE p.round_id = r.id)
		FROM rounds r JOIN traffic_rounds t ON t.round_id = r.id ORDER BY r.start_time`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var start, status string
		var frames, packets, sources, ports, syns int64
		if err := rows.Scan(&start, &status, &frames, &packets, &sources, &ports, &syns); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, start, status, frames, packets, sources, ports, syns)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
