package collect_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"portwatch/pkg/capture"
	"portwatch/pkg/capture/capturetest"
	"portwatch/pkg/collect"
	"portwatch/pkg/runerr"
	"portwatch/pkg/store"
	"portwatch/pkg/store/storetest"
)

// TestIngestRoundRule recomputes, from the stored packet times in id order,
// which round each packet belongs to under the rule (new round at the first
// frame at or after start + r; earlier times stay) and checks the stored
// round_id, the rounds' counts, start and end times, and the frame count.
func TestIngestRoundRule(t *testing.T) {
	for _, c := range []struct {
		name   string
		file   func(t *testing.T) string
		round  time.Duration
		frames int64 // FILES.tsv for the shared ones
	}{
		{"generated mixed", func(t *testing.T) string { return mixed(t, "mixed.pcap") }, time.Second, 18}, // a time goes back
		{"generated scan", func(t *testing.T) string { return scan(t, "scan.pcap", 300) }, 250 * time.Millisecond, 600},
		{"esnet_nmap_80_A.pcap", sharedFile("scans/esnet_nmap_80_A.pcap"), 2 * time.Second, 431},
		{"evilfingers_nmap_fin_scan.pcap", sharedFile("scans/evilfingers_nmap_fin_scan.pcap"), 20 * time.Millisecond, 2000}, // times go backwards twice
		{"ppa_blaster_worm.pcap", sharedFile("attacks/ppa_blaster_worm.pcap"), time.Second, 18},
		{"evilfingers_nmap_rpc_scan.pcap", sharedFile("scans/evilfingers_nmap_rpc_scan.pcap"), time.Hour, 2060},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := c.file(t)
			o := options(t, file)
			o.Round = c.round
			sum, err := collect.Collect(context.Background(), o, quiet())
			if err != nil {
				t.Fatal(err)
			}
			if sum.Counts.Frames != c.frames {
				t.Errorf("summary frames = %d, want %d", sum.Counts.Frames, c.frames)
			}
			db := storetest.Open(t, o.DB)
			storetest.Integrity(t, db)
			rows, err := storetest.Raw(t, db).Query("SELECT round_id, frame, timestamp FROM packets ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			type round struct {
				start, end time.Time
				frames     int64
			}
			var want []round
			var wantRound []int // 1-based index into want, per packet
			var gotRound []int64
			var frame int64
			for rows.Next() {
				var rid, fr int64
				var ts string
				if err := rows.Scan(&rid, &fr, &ts); err != nil {
					t.Fatal(err)
				}
				frame++
				if fr != frame {
					t.Fatalf("packet %d holds frame %d: ids must follow frames", frame, fr)
				}
				tm, err := store.ParseTime(ts)
				if err != nil {
					t.Fatal(err)
				}
				if len(want) == 0 || !tm.Before(want[len(want)-1].start.Add(c.round)) {
					want = append(want, round{start: tm, end: tm})
				}
				r := &want[len(want)-1]
				if tm.After(r.end) {
					r.end = tm
				}
				r.frames++
				wantRound = append(wantRound, len(want))
				gotRound = append(gotRound, rid)
			}
			if frame != c.frames {
				t.Errorf("packets = %d, want %d", frame, c.frames)
			}
			ids := map[int64]int{} // stored round id -> position
			for i, rid := range gotRound {
				if _, ok := ids[rid]; !ok {
					ids[rid] = len(ids) + 1
				}
				if ids[rid] != wantRound[i] {
					t.Fatalf("frame %d in round #%d, want #%d", i+1, ids[rid], wantRound[i])
				}
			}
			if got := int(storetest.Int(t, db, "SELECT count(*) FROM rounds")); got != len(want) || sum.Rounds != len(want) {
				t.Errorf("rounds = %d (summary %d), want %d", got, sum.Rounds, len(want))
			}
			for rid, pos := range ids {
				var start, end, status, source string
				var frames int64
				err := storetest.Raw(t, db).QueryRow("SELECT start_time, end_time, status, source, frames FROM rounds WHERE id = ?", rid).
					Scan(&start, &end, &status, &source, &frames)
				if err != nil {
					t.Fatal(err)
				}
				w := want[pos-1]
				if start != store.FormatTime(w.start) || end != store.FormatTime(w.end) || frames != w.frames ||
					status != "complete" || source != "pcap:"+filepath.Base(file) {
					t.Errorf("round #%d = %s..%s %d frames %s %s, want %s..%s %d frames complete pcap:%s", pos,
						start, end, frames, status, source, store.FormatTime(w.start), store.FormatTime(w.end), w.frames, filepath.Base(file))
				}
			}
		})
	}
}

// sharedFile is shared for a table of captures: the file's path, or a skip.
func sharedFile(file string) func(t *testing.T) string {
	return func(t *testing.T) string { return capturetest.Shared(t, file) }
}

func TestIngestBadFiles(t *testing.T) {
	notCapture := filepath.Join(t.TempDir(), "notes.pcap")
	if err := os.WriteFile(notCapture, []byte("this is not a capture file, just text\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A 10-frame scan, one round; cut inside the 6th record.
	probes := capturetest.Scan(t, 5)
	cut := capturetest.CutFile(t, capturetest.Temp(t, "scan.pcap", probes...), capturetest.RecordOffset(probes, 5)+20)
	good := mixed(t, "mixed.pcap") // 18 frames, 5 rounds
	for _, c := range []struct {
		name       string
		files      []string
		wantFrames int64
		wantStatus []string
		wantText   []string
	}{
		{"missing file", []string{"/no/such/file.pcap"}, 0, nil, []string{"/no/such/file.pcap"}},
		{"not a capture", []string{notCapture}, 0, nil, []string{notCapture}},
		{"truncated", []string{cut}, -1, []string{"interrupted"}, []string{cut, "byte"}},
		{"bad file then good", []string{notCapture, good}, 18,
			[]string{"complete", "complete", "complete", "complete", "complete"}, []string{notCapture}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := options(t)
			o.Pcaps = c.files
			sum, err := collect.Collect(context.Background(), o, quiet())
			var usage *runerr.BadInputError
			if !errors.As(err, &usage) {
				t.Fatalf("Run error = %v, want a *runerr.BadInputError (exit code 2)", err)
			}
			for _, s := range c.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines", err)
			}
			if _, statErr := os.Stat(o.DB); statErr != nil {
				return // nothing stored, nothing to check
			}
			db := storetest.Open(t, o.DB)
			storetest.Integrity(t, db)
			frames := storetest.Int(t, db, "SELECT count(*) FROM packets")
			if c.wantFrames >= 0 && frames != c.wantFrames {
				t.Errorf("packets = %d, want %d", frames, c.wantFrames)
			}
			if frames != sum.Counts.Frames || frames != storetest.Int(t, db, "SELECT coalesce(sum(frames), 0) FROM rounds") {
				t.Errorf("packets = %d, summary frames = %d, rounds' frames disagree", frames, sum.Counts.Frames)
			}
			var statuses []string
			rows, err := storetest.Raw(t, db).Query("SELECT status FROM rounds ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var s string
				rows.Scan(&s)
				statuses = append(statuses, s)
			}
			if strings.Join(statuses, ",") != strings.Join(c.wantStatus, ",") {
				t.Errorf("round statuses = %v, want %v", statuses, c.wantStatus)
			}
		})
	}
}

// TestIngestTruncatedKeepsFramesBeforeDamage cuts a file inside each of
// several records and checks every whole frame before the cut is stored.
func TestIngestTruncatedKeepsFramesBeforeDamage(t *testing.T) {
	for _, c := range []struct {
		name string
		file func(t *testing.T) string
		cuts []int64 // besides 10 bytes before the end
	}{
		{"generated scan", func(t *testing.T) string { return scan(t, "scan.pcap", 300) }, []int64{110, 5000, 30000}}, // 76-byte records after 24 bytes
		{"esnet_nmap_80_A.pcap", sharedFile("scans/esnet_nmap_80_A.pcap"), []int64{100, 5000, 60000}},
	} {
		t.Run(c.name, func(t *testing.T) { testTruncated(t, c.file(t), c.cuts) })
	}
}

func testTruncated(t *testing.T, file string, cuts []int64) {
	whole := options(t, file)
	if _, err := collect.Collect(context.Background(), whole, quiet()); err != nil {
		t.Fatal(err)
	}
	ref := storetest.Open(t, whole.DB)
	size, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range append(cuts, size.Size()-10) {
		o := options(t, capturetest.CutFile(t, file, cut))
		_, err := collect.Collect(context.Background(), o, quiet())
		var damaged *capture.FileError
		if !errors.As(err, &damaged) {
			t.Fatalf("cut at %d: error %v, want *capture.FileError", cut, err)
		}
		db := storetest.Open(t, o.DB)
		storetest.Integrity(t, db)
		n := storetest.Int(t, db, "SELECT count(*) FROM packets")
		if n != damaged.Frame-1 {
			t.Errorf("cut at %d: stored %d frames, damage reported at frame %d", cut, n, damaged.Frame)
		}
		// The stored frames are the whole file's first n, unchanged.
		want := storetest.Int(t, ref, "SELECT count(*) FROM packets WHERE frame <= ?", n)
		same := storetest.Int(t, db, "SELECT count(*) FROM packets")
		if same != want {
			t.Errorf("cut at %d: %d frames, whole file has %d up to there", cut, same, want)
		}
		if got := storetest.Int(t, db, "SELECT count(*) FROM rounds WHERE status = 'interrupted'"); n > 0 && got != 1 {
			t.Errorf("cut at %d: %d interrupted rounds, want the last one", cut, got)
		}
	}
}

func TestIngestMaxPackets(t *testing.T) {
	// 201: a different capture (a byte-identical copy is the same capture, ingested once).
	o := options(t, scan(t, "first.pcap", 200), scan(t, "second.pcap", 201))
	o.MaxPackets = 500 // 400 from the first file, 100 from the second
	sum, err := collect.Collect(context.Background(), o, quiet())
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.Open(t, o.DB)
	if got := storetest.Int(t, db, "SELECT count(*) FROM packets"); got != 500 || sum.Counts.Frames != 500 {
		t.Errorf("packets = %d (summary %d), want 500", got, sum.Counts.Frames)
	}
	if got := storetest.Int(t, db, "SELECT count(*) FROM rounds WHERE status <> 'complete'"); got != 0 {
		t.Errorf("%d rounds not complete after stopping at --max-packets", got)
	}
}

func TestIngestCancelled(t *testing.T) {
	o := options(t, scan(t, "scan.pcap", 1000)) // 2000 frames
	o.Round = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := collect.Collect(ctx, o, quiet())
	if !errors.Is(err, collect.ErrInterrupted) {
		t.Fatalf("Run error = %v, want ErrInterrupted", err)
	}
	db := storetest.Open(t, o.DB)
	storetest.Integrity(t, db)
	var status string
	var frames int64
	if err := storetest.Raw(t, db).QueryRow("SELECT status, frames FROM rounds").Scan(&status, &frames); err != nil {
		t.Fatal(err)
	}
	if stored := storetest.Int(t, db, "SELECT count(*) FROM packets"); status != "interrupted" || frames != stored || stored == 0 || stored >= 2000 {
		t.Errorf("round %s with %d frames, %d packets stored; want interrupted, some but not all stored", status, frames, stored)
	}
}

func TestRunLocked(t *testing.T) {
	o := options(t, mixed(t, "mixed.pcap"))
	lock, err := store.TryLock(o.DB, collect.LockName)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	if _, err := collect.Collect(context.Background(), o, quiet()); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("Run error = %v, want ErrLocked", err)
	}
	if _, err := os.Stat(o.DB); !os.IsNotExist(err) {
		t.Errorf("the locked run touched the database (stat: %v)", err)
	}
}

func TestRunMarksKilledRound(t *testing.T) {
	o := options(t, mixed(t, "mixed.pcap"))
	db, err := store.Open(context.Background(), o.DB)
	if err != nil {
		t.Fatal(err)
	}
	w, err := db.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.StartRound(time.Now(), "live"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	db.Close()
	sum, err := collect.Collect(context.Background(), o, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Interrupted != 1 {
		t.Errorf("summary marked %d rounds interrupted, want 1", sum.Interrupted)
	}
	db = storetest.Open(t, o.DB)
	if got := storetest.Int(t, db, "SELECT count(*) FROM rounds WHERE status = 'interrupted' AND source = 'live'"); got != 1 {
		t.Errorf("interrupted live rounds = %d, want 1", got)
	}
	storetest.Integrity(t, db)
}

func TestValidate(t *testing.T) {
	good := collect.Options{DB: "x.db", Round: time.Second, ScanInterval: time.Second, ScanMethod: collect.ScanProc}
	for _, c := range []struct {
		name   string
		change func(*collect.Options)
		want   string // "" for valid
	}{
		{"good", func(*collect.Options) {}, ""},
		{"bind", func(o *collect.Options) { o.ScanMethod = collect.ScanBind }, ""},
		{"no db", func(o *collect.Options) { o.DB = "" }, "-d"},
		{"zero round", func(o *collect.Options) { o.Round = 0 }, "-r"},
		{"zero interval", func(o *collect.Options) { o.ScanInterval = 0 }, "--scan-interval"},
		{"bad method", func(o *collect.Options) { o.ScanMethod = "nmap" }, "--scan"},
		{"negative payload", func(o *collect.Options) { o.PayloadBytes = -1 }, "--payload-bytes"},
		{"negative max", func(o *collect.Options) { o.MaxPackets = -1 }, "--max-packets"},
		{"negative snaplen", func(o *collect.Options) { o.Snaplen = -1 }, "--snaplen"},
		{"pcap and live", func(o *collect.Options) { o.Pcaps, o.Packets = []string{"a.pcap"}, true }, "--pcap"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := good
			c.change(&o)
			err := o.Validate()
			var usage *runerr.BadInputError
			switch {
			case c.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case c.want != "" && (!errors.As(err, &usage) || !strings.Contains(err.Error(), c.want)):
				t.Errorf("Validate() = %v, want a usage error naming %s", err, c.want)
			}
		})
	}
}

// TestIngestFIFO: a FIFO no writer opens, and one whose writer stalls after
// the header, must not hold the run (and its lock) once it is cancelled.
func TestIngestFIFO(t *testing.T) {
	header := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0}
	for _, tt := range []struct {
		name   string
		writer bool
	}{
		{"no writer", false},
		{"stalled writer", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			fifo := filepath.Join(dir, "capture.pcap")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			// Opening read-write never blocks and counts as a writer; at the
			// end it also lets a goroutine left in open(2) finish.
			w, err := os.OpenFile(fifo, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if tt.writer {
				if _, err := w.Write(header); err != nil {
					t.Fatal(err)
				}
			} else {
				w.Close()
				defer func() {
					if f, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
						f.Close()
					}
				}()
			}
			defer w.Close()
			o := collect.Options{DB: filepath.Join(dir, "ports.db"), Round: time.Second, ScanInterval: time.Second, ScanMethod: collect.ScanProc, Pcaps: []string{fifo}}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := collect.Collect(ctx, o, quiet()); !errors.Is(err, collect.ErrInterrupted) {
				t.Fatalf("Run error = %v, want ErrInterrupted", err)
			}
			lock, err := store.TryLock(o.DB, collect.LockName)
			if err != nil {
				t.Fatalf("lock after the cancelled run: %v", err)
			}
			lock.Unlock()
		})
	}
}

// TestIngestBadTimes: frames from 1970 and from the year 2100 are counted
// in the round's frames_bad_time and not stored; the good one is.
func TestIngestBadTimes(t *testing.T) {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, 0xa1b2c3d4)
	b = append(b, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0)
	frame := make([]byte, 14) // an Ethernet header, nothing after it
	for _, sec := range []uint32{0, 1600000000, 4102444800} {
		for _, v := range []uint32{sec, 0, uint32(len(frame)), uint32(len(frame))} {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		b = append(b, frame...)
	}
	b = binary.LittleEndian.AppendUint32(b, 0)
	path := filepath.Join(t.TempDir(), "times.pcap")
	if err := os.WriteFile(path, b[:len(b)-4], 0o600); err != nil {
		t.Fatal(err)
	}
	o := options(t)
	o.Pcaps = []string{path}
	sum, err := collect.Collect(context.Background(), o, quiet())
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.Open(t, o.DB)
	for q, want := range map[string]int64{
		"SELECT count(*) FROM packets":                          1,
		"SELECT sum(frames_bad_time) FROM rounds":               2,
		"SELECT count(*) FROM packets WHERE timestamp < '1990'": 0,
	} {
		if got := storetest.Int(t, db, q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	if sum.Counts.BadTime != 2 {
		t.Errorf("summary bad times = %d, want 2", sum.Counts.BadTime)
	}
}
