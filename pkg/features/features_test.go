package features

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"portwatch/pkg/sock"
	"portwatch/pkg/store"
	"portwatch/pkg/store/storetest"
	"portwatch/pkg/traffic"
)

// newDB returns a temp database opened, and so created, by the store.
func newDB(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "ports.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// addRound inserts a round starting minute minutes after t0 and its sockets.
func addRound(t testing.TB, db *store.DB, id int64, minute int, status, source string, socks ...sock.Socket) {
	t.Helper()
	start := store.FormatTime(t0.Add(time.Duration(minute) * time.Minute))
	// A capture file's rounds have packets and no occupancy scan.
	scans := 1
	if strings.HasPrefix(source, "pcap:") {
		scans = 0
	}
	if _, err := storetest.Raw(t, db).Exec("INSERT INTO rounds (id, start_time, end_time, status, source, scans) VALUES (?, ?, ?, ?, ?, ?)",
		id, start, start, status, source, scans); err != nil {
		t.Fatal(err)
	}
	for _, s := range socks {
		var pid, proc any
		if s.PID != 0 {
			pid, proc = s.PID, s.Process
		}
		if _, err := storetest.Raw(t, db).Exec(`INSERT INTO rounds_ports (round_id, port_id, timestamp, protocol, family, address, state, pid, process)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, s.Port, start, s.Protocol.String(), s.Family, s.Address.String(), s.State.String(), pid, proc); err != nil {
			t.Fatal(err)
		}
	}
}

var hostSockets = []sock.Socket{
	{Port: 22, Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr("0.0.0.0"), State: sock.Listen, PID: 812, Process: "sshd"},
	{Port: 22, Protocol: sock.TCP, Family: 6, Address: netip.MustParseAddr("::"), State: sock.Listen, PID: 812, Process: "sshd"},
	{Port: 22, Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr("192.168.1.5"), State: sock.Established, PID: 9001, Process: "sshd"},
	{Port: 53, Protocol: sock.UDP, Family: 4, Address: netip.MustParseAddr("127.0.0.53"), State: sock.Unconn},
	{Port: 5432, Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr("127.0.0.1"), State: sock.Listen, PID: 900, Process: "postgres"},
	{Port: 631, Protocol: sock.TCP, Family: 6, Address: netip.MustParseAddr("::1"), State: sock.Listen},
	{Port: 8080, Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr("192.168.1.5"), State: sock.Listen},
	{Port: 41000, Protocol: sock.UDP, Family: 4, Address: netip.MustParseAddr("192.168.1.5"), State: sock.Established},
	{Port: 45000, Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr("192.168.1.5"), State: sock.Established},
	{Port: 45001, Protocol: sock.TCP, Family: 6, Address: netip.MustParseAddr("2001:db8::5"), State: sock.TimeWait},
}

// onPorts returns the ports set to a nonzero value in channel c of a [C, 65536] plane.
func onPorts(plane []float32, c int) []int {
	var ports []int
	for p, v := range plane[c*Ports : (c+1)*Ports] {
		if v != 0 {
			ports = append(ports, p)
		}
	}
	return ports
}

func TestChannelMapping(t *testing.T) {
	db := newDB(t)
	addRound(t, db, 1, 0, "complete", "live", hostSockets...)
	rounds, err := db.Rounds(context.Background(), store.RoundQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rounds) != 1 {
		t.Fatalf("got %d rounds, want 1", len(rounds))
	}
	names := []string{TCPListen, UDPBound, TCPConn, TCPListenWildcard, TCPListenLoopback, Clock}
	l, plane := fillOne(t, names, &rounds[0])
	want := map[string][]int{
		TCPListen:         {22, 631, 5432, 8080},
		UDPBound:          {53, 41000},
		TCPConn:           {22, 45000, 45001},
		TCPListenWildcard: {22},
		TCPListenLoopback: {631, 5432},
		// t0 is a Saturday, 10:00 UTC: minute 0, hour 10, day 6, quarter minute 0.
		Clock: {clockMinute, clockHour + 10, clockWeekday + 6, clockQuarter},
	}
	for c, name := range names {
		if got := onPorts(plane, c); !slices.Equal(got, want[name]) {
			t.Errorf("channel %s: got ports %v, want %v", name, got, want[name])
		}
		var got []int
		for _, p := range l.Ports(&rounds[0], c) {
			got = append(got, int(p))
		}
		if !slices.Equal(got, want[name]) {
			t.Errorf("Ports of channel %s: got %v, want %v", name, got, want[name])
		}
	}
	if got := plane[0*Ports+22]; got != 1 {
		t.Errorf("tcp_listen port 22: got %v, want 1", got)
	}
	// The loaded rows keep what explains an anomaly.
	got := l.Explain(&rounds[0], 0, 5432)
	want5432 := []sock.Socket{hostSockets[4]}
	if !slices.Equal(got, want5432) {
		t.Errorf("explain tcp_listen 5432: got %+v, want %+v", got, want5432)
	}
}

// A container's listener is its own socket: on tcp_listen_container and not the host's, on tcp_listen
// with the host's listener of the same port, and explained with its namespace. The round goes
// through the store's writer, as collect stores it.
func TestContainerChannel(t *testing.T) {
	host := sock.Netns{Inode: 4026531840, Host: true}
	hostOnes := slices.Clone(hostSockets)
	for i := range hostOnes {
		hostOnes[i].Netns = host
	}
	nginx := sock.Socket{Port: 8080, Protocol: sock.TCP, Family: 4, Address: netip.IPv4Unspecified(), State: sock.Listen,
		PID: 4000, Process: "nginx", Netns: sock.Netns{Inode: 4026532999, Name: "docker:0123abcd"}}
	unnamed := sock.Socket{Port: 9000, Protocol: sock.TCP, Family: 6, Address: netip.IPv6Unspecified(), State: sock.Listen,
		Netns: sock.Netns{Inode: 4026533000}}
	boxConn := sock.Socket{Port: 46000, Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr("172.17.0.2"), State: sock.Established,
		Netns: nginx.Netns}
	db := newDB(t)
	w, err := db.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	id, err := w.StartRound(t0, "live")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddScan(id, t0, append(hostOnes, nginx, unnamed, boxConn)); err != nil {
		t.Fatal(err)
	}
	if err := w.EndRound(id, t0.Add(time.Minute), store.Complete, store.Counts{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rounds, err := db.Rounds(context.Background(), store.RoundQuery{})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{TCPListen, TCPListenWildcard, TCPListenContainer, TCPConn}
	l, plane := fillOne(t, names, &rounds[0])
	want := map[string][]int{
		TCPListen:          {22, 631, 5432, 8080, 9000},
		TCPListenWildcard:  {22, 8080, 9000},
		TCPListenContainer: {8080, 9000},
		TCPConn:            {22, 45000, 45001, 46000},
	}
	for c, name := range names {
		if got := onPorts(plane, c); !slices.Equal(got, want[name]) {
			t.Errorf("channel %s: got ports %v, want %v", name, got, want[name])
		}
	}
	if got, want := l.Explain(&rounds[0], 2, 8080), []sock.Socket{nginx}; !slices.Equal(got, want) {
		t.Errorf("explain tcp_listen_container 8080: got %+v, want %+v", got, want)
	}
	if got, want := l.Explain(&rounds[0], 0, 8080), []sock.Socket{nginx, hostOnes[6]}; !slices.Equal(got, want) {
		t.Errorf("explain tcp_listen 8080: got %+v, want %+v", got, want)
	}
}

// fillOne returns the layout of names and r filled in as one [C, 65536] plane.
func fillOne(t *testing.T, names []string, r *store.Round) (Layout, []float32) {
	t.Helper()
	l, err := NewLayout(names)
	if err != nil {
		t.Fatal(err)
	}
	plane := make([]float32, l.C()*Ports)
	if err := l.FillRound(plane, r); err != nil {
		t.Fatal(err)
	}
	return l, plane
}

func ids(rounds []store.Round) []int64 {
	out := make([]int64, len(rounds))
	for i, r := range rounds {
		out[i] = r.ID
	}
	return out
}

func TestLoadQuery(t *testing.T) {
	db := newDB(t)
	for i := int64(1); i <= 8; i++ {
		status, source := "complete", "live"
		switch i {
		case 3:
			status = "interrupted"
		case 4:
			status = "running"
		case 6:
			source = "pcap:x.pcap"
		}
		addRound(t, db, i, int(i), status, source, hostSockets[:int(i)%len(hostSockets)]...)
	}
	tests := []struct {
		name string
		q    store.RoundQuery
		want []int64
	}{
		{"all complete", store.RoundQuery{}, []int64{1, 2, 5, 6, 7, 8}},
		{"live", store.RoundQuery{Source: "live"}, []int64{1, 2, 5, 7, 8}},
		{"after", store.RoundQuery{AfterID: 5}, []int64{6, 7, 8}},
		{"limit", store.RoundQuery{AfterID: 1, Limit: 2}, []int64{2, 5}},
		{"context", store.RoundQuery{AfterID: 5, Source: "live", Context: 2}, []int64{2, 5, 7, 8}},
		{"context at start", store.RoundQuery{Context: 3, Limit: 1}, []int64{1}},
		{"context of nothing", store.RoundQuery{AfterID: 8, Context: 3}, nil},
		{"scanned", store.RoundQuery{Scanned: true}, []int64{1, 2, 5, 7, 8}},
		{"scanned context", store.RoundQuery{AfterID: 6, Scanned: true, Context: 2}, []int64{2, 5, 7, 8}},
		{"scanned after the capture", store.RoundQuery{AfterID: 5, Scanned: true}, []int64{7, 8}},
		{"since until", store.RoundQuery{Since: t0.Add(2 * time.Minute), Until: t0.Add(7 * time.Minute)}, []int64{2, 5, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rounds, err := db.Rounds(context.Background(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(rounds); !slices.Equal(got, tt.want) {
				t.Errorf("got rounds %v, want %v", got, tt.want)
			}
			for _, r := range rounds {
				if got, want := len(r.Sockets), int(r.ID)%len(hostSockets); got != want {
					t.Errorf("round %d: got %d sockets, want %d", r.ID, got, want)
				}
				if want := t0.Add(time.Duration(r.ID) * time.Minute); !r.Start.Equal(want) {
					t.Errorf("round %d: got start %v, want %v", r.ID, r.Start, want)
				}
			}
		})
	}
}

// The traffic channels read a round's summary: inbound rows only, each its
// own count, scaled; a round without a summary is all zeros.
func TestTrafficChannels(t *testing.T) {
	sum := &traffic.Summary{Ports: []traffic.PortStat{
		{Port: 22, Protocol: "tcp", Direction: traffic.In, Packets: 9, SYNs: 3, Peers: 1},
		{Port: 53, Protocol: "tcp", Direction: traffic.In, Packets: 2, Peers: 2},
		{Port: 53, Protocol: "udp", Direction: traffic.In, Packets: 5000, Peers: 7},
		{Port: 443, Protocol: "tcp", Direction: traffic.Out, Packets: 80, SYNs: 4, Peers: 3}, // from this host: no channel
	}}
	rounds := []store.Round{{ID: 1, Start: t0, Traffic: sum}, {ID: 2, Start: t0.Add(time.Minute)}}
	l, err := NewLayout(TrafficChannels())
	if err != nil {
		t.Fatal(err)
	}
	if !l.Traffic() || l.Occupancy() {
		t.Fatalf("Traffic %v, Occupancy %v for the traffic channels, want true and false", l.Traffic(), l.Occupancy())
	}
	if mixed, _ := NewLayout([]string{TCPListen, SYNIn, Clock}); !mixed.Traffic() || !mixed.Occupancy() {
		t.Errorf("tcp_listen+syn_in+clock: want both traffic and occupancy")
	}
	tests := []struct {
		round   int
		channel string
		port    int
		want    float32
	}{
		{0, SYNIn, 22, countScale(3)},
		{0, TCPIn, 22, countScale(9)},
		{0, TCPIn, 53, countScale(2)},
		{0, UDPIn, 53, 1}, // 5000 >= countCap
		{0, PeersIn, 53, countScale(7)},
		{0, SYNIn, 443, 0},
		{0, TCPIn, 443, 0},
		{1, TCPIn, 22, 0},
	}
	for _, tt := range tests {
		plane := make([]float32, l.C()*Ports)
		if err := l.FillRound(plane, &rounds[tt.round]); err != nil {
			t.Fatal(err)
		}
		c := slices.Index(l.Channels(), tt.channel)
		if got := plane[c*Ports+tt.port]; got != tt.want {
			t.Errorf("round %d %s port %d: got %v, want %v", rounds[tt.round].ID, tt.channel, tt.port, got, tt.want)
		}
	}
	if got := l.Ports(&rounds[0], slices.Index(l.Channels(), PeersIn)); !slices.Equal(got, []uint16{22, 53}) {
		t.Errorf("peers_in ports %v, want [22 53] (53 once for tcp and udp)", got)
	}
	if got := countScale(1); got < 0.09 || got > 0.11 {
		t.Errorf("countScale(1): got %v, want about 0.1", got)
	}
}

func TestWindowsAcrossGap(t *testing.T) {
	// Minute rounds 0..3, the host asleep, then 10..13 and a round 15
	// (a missed cron run, not a gap: 2 min <= 3x the 1 min median).
	minutes := []int{0, 1, 2, 3, 10, 11, 12, 13, 15}
	rounds := make([]store.Round, len(minutes))
	for i, m := range minutes {
		rounds[i] = store.Round{ID: int64(i + 1), Start: t0.Add(time.Duration(m) * time.Minute)}
	}
	ws, err := Windows(rounds, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		ids    []int64
		padded int
	}{
		{[]int64{1, 1, 1}, 2},
		{[]int64{1, 1, 2}, 1},
		{[]int64{1, 2, 3}, 0},
		{[]int64{2, 3, 4}, 0},
		{[]int64{5, 5, 5}, 2}, // nothing reaches back across the gap
		{[]int64{5, 5, 6}, 1},
		{[]int64{5, 6, 7}, 0},
		{[]int64{6, 7, 8}, 0},
		{[]int64{7, 8, 9}, 0},
	}
	if len(ws) != len(want) {
		t.Fatalf("got %d windows, want %d", len(ws), len(want))
	}
	for i, w := range ws {
		var got []int64
		for _, r := range w.Rounds {
			got = append(got, r.ID)
		}
		if !slices.Equal(got, want[i].ids) || w.Padded != want[i].padded {
			t.Errorf("window %d: got %v padded %d, want %v padded %d", i, got, w.Padded, want[i].ids, want[i].padded)
		}
	}
	if _, err := Windows(rounds, 0); err == nil {
		t.Error("Windows(t=0): got nil error, want one")
	}
}

func TestFill(t *testing.T) {
	rounds := []store.Round{
		{ID: 1, Start: t0, Sockets: []sock.Socket{{Port: 22, Protocol: sock.TCP, State: sock.Listen, Address: netip.MustParseAddr("0.0.0.0")}}},
		{ID: 2, Start: t0.Add(time.Minute), Sockets: []sock.Socket{
			{Port: 22, Protocol: sock.TCP, State: sock.Listen, Address: netip.MustParseAddr("0.0.0.0")},
			{Port: 65535, Protocol: sock.UDP, State: sock.Unconn, Address: netip.MustParseAddr("::")},
			{Port: 0, Protocol: sock.TCP, State: sock.Established, Address: netip.MustParseAddr("10.0.0.1")},
		}},
	}
	l, err := NewLayout([]string{UDPBound, TCPListen, TCPConn})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := Windows(rounds, 2)
	if err != nil {
		t.Fatal(err)
	}
	const T, C = 2, 3
	dst := make([]float32, T*C*Ports)
	for i := range dst {
		dst[i] = 7 // a reused buffer's leftovers must go
	}
	if err := l.Fill(dst, ws[1]); err != nil {
		t.Fatal(err)
	}
	at := func(t, c, port int) int { return (t*C+c)*Ports + port }
	wantOnes := []int{at(0, 1, 22), at(1, 1, 22), at(1, 0, 65535), at(1, 2, 0)}
	var gotOnes []int
	for i, v := range dst {
		switch v {
		case 0:
		case 1:
			gotOnes = append(gotOnes, i)
		default:
			t.Fatalf("dst[%d]: got %v, want 0 or 1", i, v)
		}
	}
	slices.Sort(wantOnes)
	if !slices.Equal(gotOnes, wantOnes) {
		t.Errorf("got ones at %v, want %v", gotOnes, wantOnes)
	}
	target := make([]float32, C*Ports)
	if err := l.FillRound(target, ws[1].Last()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(target, dst[C*Ports:]) {
		t.Error("FillRound of the last round differs from the window's last plane")
	}
	if err := l.Fill(dst[1:], ws[1]); err == nil {
		t.Error("Fill into a short buffer: got nil error, want one")
	}
}

func TestNewLayout(t *testing.T) {
	tests := []struct {
		names   []string
		wantErr []string // substrings of the error; nil for none
	}{
		{OccupancyChannels(), nil},
		{[]string{SYNIn, TCPListenLoopback}, nil},
		{[]string{TCPListen, "tcp_lsten", "icmp"}, []string{`"tcp_lsten"`, `"icmp"`, "known channels are tcp_listen"}},
		{[]string{TCPConn, TCPConn}, []string{`"tcp_conn" listed twice`}},
		{nil, []string{"no channels"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.names), func(t *testing.T) {
			l, err := NewLayout(tt.names)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				if got := l.Channels(); !slices.Equal(got, tt.names) {
					t.Errorf("got channels %v, want %v", got, tt.names)
				}
				return
			}
			if err == nil {
				t.Fatalf("got nil error, want one naming %v", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestFillForecast: the last round of a window repeats the one before on
// every channel but the clock, which keeps the last round's own time.
func TestFillForecast(t *testing.T) {
	l, err := NewLayout([]string{TCPListen, Clock})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 13, 14, 37, 0, 0, time.UTC) // a Friday
	listen := func(port uint16) sock.Socket {
		return sock.Socket{Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr("0.0.0.0"), Port: port, State: sock.Listen}
	}
	r1 := store.Round{ID: 1, Start: at, Sockets: []sock.Socket{listen(22)}}
	r2 := store.Round{ID: 2, Start: at.Add(time.Minute), Sockets: []sock.Socket{listen(22), listen(4444)}}
	w := Window{Rounds: []*store.Round{&r1, &r2}}
	plane := l.C() * Ports
	dst := make([]float32, 2*plane)
	if err := l.FillForecast(dst, w); err != nil {
		t.Fatal(err)
	}
	last := dst[plane:]
	if got := onPorts(last, 0); !slices.Equal(got, []int{22}) {
		t.Errorf("masked tcp_listen: got ports %v, want the round before's [22]", got)
	}
	if got, want := onPorts(last, 1), []int{clockMinute + 38, clockHour + 14, clockWeekday + 5, clockQuarter + 8}; !slices.Equal(got, want) {
		t.Errorf("masked clock: got %v, want the last round's own %v", got, want)
	}
	if err := l.FillForecast(make([]float32, plane), Window{Rounds: []*store.Round{&r2}}); err == nil {
		t.Error("forecast of a one-round window: got no error")
	}
}
