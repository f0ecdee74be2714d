package collect_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"portwatch/pkg/capture/capturetest"
	"portwatch/pkg/collect"
	"portwatch/pkg/store/storetest"
)

// snapshot is what a capture's ingest leaves: packets by frame with their
// round's start, and every summary row.
const snapshot = `
SELECT 'p', p.frame, r.start_time, r.status, r.frames FROM packets p JOIN rounds r ON r.id = p.round_id
UNION ALL SELECT 't', r.start_time, t.packets, t.sources, coalesce(t.note, '') FROM traffic_rounds t JOIN rounds r ON r.id = t.round_id
UNION ALL SELECT 'port', r.start_time, t.port || t.direction, t.packets, t.peers FROM traffic_ports t JOIN rounds r ON r.id = t.round_id
UNION ALL SELECT 'src', r.start_time, t.address, t.local_ports, t.syns FROM traffic_sources t JOIN rounds r ON r.id = t.round_id
ORDER BY 1, 2, 3, 4, 5`

// TestReingestResumes ingests part of a capture, the whole of it again, and
// once more: the second run stores exactly the missing frames and the third
// nothing.
func TestReingestResumes(t *testing.T) {
	path := capturetest.Temp(t, "scan.pcap", capturetest.Scan(t, 600)...) // 1200 frames over 6 s
	o := options(t, path)
	o.MaxPackets = 500 // a partial ingest, as a stop before the end leaves it
	if _, err := collect.Collect(context.Background(), o, quiet()); err != nil {
		t.Fatal(err)
	}
	o.MaxPackets = 0
	sum, err := collect.Collect(context.Background(), o, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts.Frames != 700 || sum.Resumed != 0 {
		t.Errorf("resumed run stored %d frames (%d replayed), want the missing 700", sum.Counts.Frames, sum.Resumed)
	}
	var logs bytes.Buffer
	sum, err = collect.Collect(context.Background(), o, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts.Frames != 0 || sum.Captures != 1 || !strings.Contains(logs.String(), "capture already ingested") {
		t.Errorf("third run stored %d frames, skipped %d captures, logged %q; want nothing stored and the skip logged", sum.Counts.Frames, sum.Captures, logs.String())
	}
	db := storetest.Open(t, o.DB)
	if got := storetest.Int(t, db, "SELECT count(*) FROM packets"); got != 1200 {
		t.Errorf("packets = %d, want the file's 1200 frames", got)
	}
	if got := storetest.Int(t, db, "SELECT count(DISTINCT frame) FROM packets"); got != 1200 {
		t.Errorf("distinct frames = %d, want 1200", got)
	}
	if got := storetest.Int(t, db, "SELECT frames_committed * complete FROM captures"); got != 1200 {
		t.Errorf("captures row: %d frames committed and complete, want 1200", got)
	}
}

// TestReingestAfterKill rebuilds the state a kill -9 leaves mid-round (the
// packets and captures row of the last commit, the round running) and checks
// the re-ingest resumes into that round: packets, rounds and summaries equal
// a clean ingest's.
func TestReingestAfterKill(t *testing.T) {
	path := capturetest.Temp(t, "scan.pcap", capturetest.Scan(t, 600)...)
	clean := ingest(t, time.Second, nil, path)
	want := rows(t, clean, snapshot)

	for _, committed := range []int64{1, 150, 250, 1199} {
		o := options(t, path)
		if _, err := collect.Collect(context.Background(), o, quiet()); err != nil {
			t.Fatal(err)
		}
		db := storetest.Open(t, o.DB)
		raw := storetest.Raw(t, db)
		// The round holding frame committed was being filled; later rounds did not exist yet.
		var round, first int64
		if err := raw.QueryRow(`SELECT round_id, (SELECT min(frame) FROM packets q WHERE q.round_id = p.round_id)
			FROM packets p WHERE frame = ?`, committed).Scan(&round, &first); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			"DELETE FROM packets WHERE frame > ?1",
			"DELETE FROM rounds WHERE id > ?2",
			"DELETE FROM traffic_rounds WHERE round_id = ?2",
			"DELETE FROM traffic_ports WHERE round_id = ?2",
			"DELETE FROM traffic_sources WHERE round_id = ?2",
			"UPDATE rounds SET status = 'running', end_time = NULL WHERE id = ?2",
			"UPDATE captures SET frames_committed = ?1, round_id = ?2, round_frame = ?3, complete = 0",
		} {
			if _, err := raw.Exec(q, committed, round, first); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		db.Close()
		sum, err := collect.Collect(context.Background(), o, quiet())
		if err != nil {
			t.Fatal(err)
		}
		if sum.Interrupted != 1 || sum.Counts.Frames != 1200-committed {
			t.Errorf("committed %d: marked %d interrupted, stored %d frames; want 1 and %d", committed, sum.Interrupted, sum.Counts.Frames, 1200-committed)
		}
		db = storetest.Open(t, o.DB)
		if got := rows(t, db, snapshot); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("committed %d: resumed ingest differs from a clean one (%d rows, want %d)", committed, len(got), len(want))
		}
		storetest.Integrity(t, db)
	}
}
