package collect_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"portwatch/pkg/capture"
	"portwatch/pkg/collect"
	"portwatch/pkg/store/storetest"
)

func liveOptions(t *testing.T) collect.Options {
	t.Helper()
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	return collect.Options{
		DB: filepath.Join(t.TempDir(), "ports.db"), Round: time.Second,
		ScanInterval: 200 * time.Millisecond, ScanMethod: collect.ScanNetlink,
	}
}

func listenTCP(t *testing.T) (net.Listener, int) {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l, l.Addr().(*net.TCPAddr).Port
}

// TestLiveRoundStoresSockets opens real sockets and checks one live round
// stored each once, with this process as owner, over several scans.
func TestLiveRoundStoresSockets(t *testing.T) {
	o := liveOptions(t)
	_, tcpPort := listenTCP(t)
	udp, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer udp.Close()
	udpPort := udp.LocalAddr().(*net.UDPAddr).Port

	sum, err := collect.Collect(context.Background(), o, quiet())
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.Open(t, o.DB)
	storetest.Integrity(t, db)
	for _, c := range []struct {
		port               int
		proto, addr, state string
		family             int
	}{
		{tcpPort, "tcp", "127.0.0.1", "listen", 4},
		{udpPort, "udp", "::1", "unconn", 6},
	} {
		var n, pid int64
		err := storetest.Raw(t, db).QueryRow(`SELECT count(*), coalesce(max(pid), 0) FROM rounds_ports
			WHERE port_id = ? AND protocol = ? AND family = ? AND address = ? AND state = ?`,
			c.port, c.proto, c.family, c.addr, c.state).Scan(&n, &pid)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 || pid != int64(os.Getpid()) {
			t.Errorf("%s %s:%d %s: %d rows owned by pid %d, want 1 row owned by %d", c.proto, c.addr, c.port, c.state, n, pid, os.Getpid())
		}
	}
	var status, source string
	var scans int
	if err := storetest.Raw(t, db).QueryRow("SELECT status, source, scans FROM rounds").Scan(&status, &source, &scans); err != nil {
		t.Fatal(err)
	}
	// 1 s at 200 ms is 5 scans; a loaded machine may take fewer.
	if status != "complete" || source != "live" || scans < 2 || scans > 5 || scans != sum.Scans {
		t.Errorf("round %s %s with %d scans (summary %d), want complete live with 2..5", status, source, scans, sum.Scans)
	}
	if dup := storetest.Int(t, db, `SELECT count(*) FROM (SELECT 1 FROM rounds_ports
		GROUP BY round_id, port_id, protocol, family, address, state HAVING count(*) > 1)`); dup != 0 {
		t.Errorf("%d sockets stored more than once", dup)
	}
}

// TestLiveRoundCapturesLoopback captures on lo during a round while
// connecting to a listener, and checks the SYNs to it were stored.
func TestLiveRoundCapturesLoopback(t *testing.T) {
	o := liveOptions(t)
	_, port := listenTCP(t)
	o.Packets, o.Interface, o.Filter = true, "lo", "tcp port "+strconv.Itoa(port)
	o.Round = 1500 * time.Millisecond
	dialEvery(t, port, 100*time.Millisecond)
	sum := runCapture(t, o)
	db := storetest.Open(t, o.DB)
	storetest.Integrity(t, db)
	syns := storetest.Int(t, db, "SELECT count(*) FROM packets WHERE dest_port = ? AND tcp_flags = 2 AND protocols LIKE '%:ipv4:tcp'", port)
	total := storetest.Int(t, db, "SELECT count(*) FROM packets")
	if syns < 2 {
		t.Errorf("stored %d SYNs to port %d (of %d packets), want several", syns, port, total)
	}
	if frames := storetest.Int(t, db, "SELECT frames FROM rounds"); frames != total || sum.Counts.Frames != total {
		t.Errorf("rounds.frames = %d, summary %d, packets %d: want equal", frames, sum.Counts.Frames, total)
	}
	if nulls := storetest.Int(t, db, "SELECT count(*) FROM packets WHERE payload IS NOT NULL"); nulls != 0 {
		t.Errorf("%d packets kept payload without --payload-bytes", nulls)
	}
}

func TestLiveRoundInterrupted(t *testing.T) {
	o := liveOptions(t)
	o.Round = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // cancel once the first scan is stored, as a signal would
		defer cancel()
		for range 600 {
			time.Sleep(50 * time.Millisecond)
			if scans(o.DB) > 0 {
				return
			}
		}
	}()
	start := time.Now()
	_, err := collect.Collect(ctx, o, quiet())
	if !errors.Is(err, collect.ErrInterrupted) {
		t.Fatalf("Run error = %v, want ErrInterrupted", err)
	}
	if took := time.Since(start); took > 40*time.Second {
		t.Errorf("interrupted round took %v to end", took)
	}
	db := storetest.Open(t, o.DB)
	storetest.Integrity(t, db)
	var status string
	var scans int
	var end any
	if err := storetest.Raw(t, db).QueryRow("SELECT status, scans, end_time FROM rounds").Scan(&status, &scans, &end); err != nil {
		t.Fatal(err)
	}
	if status != "interrupted" || scans < 1 || end == nil {
		t.Errorf("round %s, %d scans, end %v; want interrupted, >= 1 scan, an end time", status, scans, end)
	}
}

// TestLiveRoundLetsOthersWrite writes from another connection, as detect
// and cleanup do, while a live round captures steady traffic: the round must
// hold SQLite's write lock only in short flushes.
func TestLiveRoundLetsOthersWrite(t *testing.T) {
	o := liveOptions(t)
	_, port := listenTCP(t)
	o.Packets, o.Interface, o.Filter = true, "lo", "tcp port "+strconv.Itoa(port)
	o.Round, o.ScanInterval = 3*time.Second, time.Minute // one scan: no scan commits
	dialEvery(t, port, 5*time.Millisecond)
	writes := make(chan error, 1)
	go func() {
		for scans(o.DB) == 0 {
			time.Sleep(20 * time.Millisecond)
		}
		// Half a second is ample for a flush and far below a round.
		db, err := sql.Open("sqlite3", "file:"+o.DB+"?_busy_timeout=500")
		if err != nil {
			writes <- err
			return
		}
		defer db.Close()
		for i := range 12 { // every 200 ms across the round's flushes
			if _, err := db.Exec("INSERT INTO batches (timestamp, alg) VALUES (?, 'test')", i); err != nil {
				writes <- fmt.Errorf("write %d during the round: %w", i, err)
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		writes <- nil
	}()
	runCapture(t, o)
	if err := <-writes; err != nil {
		t.Error(err)
	}
	db := storetest.Open(t, o.DB)
	storetest.Integrity(t, db)
	if got := storetest.Int(t, db, "SELECT count(*) FROM packets"); got < 10 {
		t.Errorf("only %d packets stored: the traffic did not flow, the test proves nothing", got)
	}
}

// dialEvery connects to 127.0.0.1:port every interval until the test ends.
func dialEvery(t *testing.T, port int, interval time.Duration) {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(interval):
				if c, err := net.Dial("tcp4", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
					c.Close()
				}
			}
		}
	}()
}

// scans counts the occupancy scans a running collect has stored in path.
func scans(path string) int64 {
	return storetest.Peek(path, "SELECT coalesce(sum(scans), 0) FROM rounds")
}

func TestLiveRoundMaxPackets(t *testing.T) {
	o := liveOptions(t)
	_, port := listenTCP(t)
	o.Packets, o.Interface, o.Filter, o.MaxPackets = true, "lo", "tcp port "+strconv.Itoa(port), 5
	dialEvery(t, port, 20*time.Millisecond)
	sum := runCapture(t, o)
	db := storetest.Open(t, o.DB)
	var frames, scans int64
	var status string
	if err := storetest.Raw(t, db).QueryRow("SELECT frames, scans, status FROM rounds").Scan(&frames, &scans, &status); err != nil {
		t.Fatal(err)
	}
	packets := storetest.Int(t, db, "SELECT count(*) FROM packets")
	if packets != 5 || frames != 5 || sum.Counts.Frames != 5 || status != "complete" || scans < 2 {
		t.Errorf("%d packets, rounds.frames %d, summary %d, %s with %d scans; want 5, 5, 5, complete, scanning on", packets, frames, sum.Counts.Frames, status, scans)
	}
}

// runCapture runs a round that captures packets; without capture permission
// the test skips (pkg/capture's file tests cover the same decoding).
func runCapture(t *testing.T, o collect.Options) collect.Summary {
	t.Helper()
	sum, err := collect.Collect(context.Background(), o, quiet())
	var perm *capture.PermissionError
	if errors.As(err, &perm) {
		t.Skipf("capture not permitted here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return sum
}
