package store_test

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"portwatch/pkg/sock"
	"portwatch/pkg/store"
	"portwatch/pkg/store/storetest"
)

// Sockets written by a scan come back from Rounds as the same values, in
// the stored text's order (port, protocol, family, address, state).
func TestRoundsReadsBackScans(t *testing.T) {
	db, _ := storetest.New(t)
	w := newWriter(t, db)
	id := startRound(t, w, "live")
	socks := []sock.Socket{
		{Port: 53, Protocol: sock.UDP, Family: 4, Address: netip.MustParseAddr("127.0.0.53"), State: sock.Unconn, PID: 700, Process: "systemd-resolve"},
		{Port: 22, Protocol: sock.TCP, Family: 6, Address: netip.IPv6Unspecified(), State: sock.Listen, PID: 1, Process: "sshd"},
		{Port: 22, Protocol: sock.TCP, Family: 4, Address: netip.IPv4Unspecified(), State: sock.Listen, PID: 1, Process: "sshd"},
		{Port: 22, Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr("192.0.2.1"), State: sock.TimeWait},
		{Port: 22, Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr("192.0.2.1"), State: sock.Established},
	}
	if err := w.AddScan(id, t0, socks); err != nil {
		t.Fatal(err)
	}
	if err := w.EndRound(id, t0.Add(time.Minute), store.Complete, store.Counts{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rounds, err := db.Rounds(context.Background(), store.RoundQuery{Scanned: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rounds) != 1 || rounds[0].ID != id || !rounds[0].Start.Equal(t0) {
		t.Fatalf("got rounds %+v, want round %d at %v", rounds, id, t0)
	}
	want := []sock.Socket{socks[2], socks[4], socks[3], socks[1], socks[0]}
	if got := rounds[0].Sockets; !slices.Equal(got, want) {
		t.Errorf("sockets:\ngot  %+v\nwant %+v", got, want)
	}
}

// A state the code does not know, written by something else, is an error
// naming the round and the text, not a socket silently misread.
func TestRoundsRejectsUnknownState(t *testing.T) {
	db, _ := storetest.New(t)
	raw := storetest.Raw(t, db)
	if _, err := raw.Exec(`INSERT INTO rounds (id, start_time, end_time, status, source, scans)
		VALUES (1, '2026-11-21T10:00:00.000000Z', '2026-11-21T10:01:00.000000Z', 'complete', 'live', 1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO rounds_ports (round_id, port_id, timestamp, protocol, family, address, state)
		VALUES (1, 80, '2026-11-21T10:00:00.000000Z', 'tcp', 4, '0.0.0.0', 'LISTENING')`); err != nil {
		t.Fatal(err)
	}
	_, err := db.Rounds(context.Background(), store.RoundQuery{})
	if err == nil || !strings.Contains(err.Error(), "round 1") || !strings.Contains(err.Error(), `"LISTENING"`) {
		t.Errorf("Rounds = %v, want an error naming round 1 and state \"LISTENING\"", err)
	}
}

// The same port in the host's namespace and in a container's is two rows, each with its namespace,
// read back as two sockets; repeated scans still store each once per round.
func TestAddScanKeepsNamespacesApart(t *testing.T) {
	host := sock.Netns{Inode: 4026531840, Host: true}
	box := sock.Netns{Inode: 4026532999, Name: "docker:0123abcd"}
	web := sock.Socket{Port: 8080, Protocol: sock.TCP, Family: 4, Address: netip.IPv4Unspecified(), State: sock.Listen, PID: 10, Process: "python3", Netns: host}
	nginx := web
	nginx.PID, nginx.Process, nginx.Netns = 20, "nginx", box
	untold := web // a scanner that sees only its own namespace
	untold.Port, untold.Netns = 9090, sock.Netns{}

	db, _ := storetest.New(t)
	w := newWriter(t, db)
	id := startRound(t, w, "live")
	for i := range 2 {
		if err := w.AddScan(id, t0.Add(time.Duration(i)*time.Second), []sock.Socket{web, nginx, untold}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.EndRound(id, t0.Add(time.Minute), store.Complete, store.Counts{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	checkInts(t, db, []intCheck{
		{"SELECT count(*) FROM rounds_ports WHERE port_id = 8080", 2},
		{"SELECT count(*) FROM rounds_ports WHERE port_id = 8080 AND netns = 4026531840 AND netns_host = 1 AND netns_name IS NULL", 1},
		{"SELECT count(*) FROM rounds_ports WHERE port_id = 8080 AND netns = 4026532999 AND netns_host = 0 AND netns_name = 'docker:0123abcd'", 1},
		{"SELECT count(*) FROM rounds_ports WHERE port_id = 9090 AND netns = 0 AND netns_host = 1", 1},
	})
	rounds, err := db.Rounds(context.Background(), store.RoundQuery{Scanned: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []sock.Socket{web, nginx, untold}; len(rounds) != 1 || !slices.Equal(rounds[0].Sockets, want) {
		t.Errorf("sockets:\ngot  %+v\nwant %+v", rounds, want)
	}
}
