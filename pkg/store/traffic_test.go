package store_test

import (
	"context"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"portwatch/pkg/store"
	"portwatch/pkg/store/storetest"
	"portwatch/pkg/traffic"
)

// A traffic summary written at a round's end comes back from Rounds as the
// same value, and Captured selects only the rounds that have one.
func TestRoundsReadsBackTraffic(t *testing.T) {
	db, _ := storetest.New(t)
	w := newWriter(t, db)
	ctx := context.Background()
	sum := &traffic.Summary{
		Local:   traffic.Local{From: traffic.FromFlag, Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}},
		Packets: 2100, IPPackets: 2090, Overflow: 3, Sources: 2, Unreach: 4, SYNSources: 5,
		Reflect:  traffic.ReflectStat{Port: 53, Sources: 49, Packets: 523},
		Spread:   traffic.SpreadStat{Source: "10.0.0.5", Port: 445, Hosts: 300},
		Backdoor: traffic.BackdoorStat{Host: "10.0.0.8", Port: 4444, Peers: 2},
		DNS: traffic.DNSStats{Queries: 400, Responses: 390, Names: 400, MaxLabel: 60, MeanLabel: 31.5, Entropy: 3.9,
			MaxEntropy: 4.1, TXTNullShare: 0.5, NXDomainShare: 0.25, NXDepth: 5, NXName: "a.b.c.d.e.pirate.sea"},
		Ports: []traffic.PortStat{
			{Port: 22, Protocol: "tcp", Direction: traffic.In, Packets: 1000, SYNs: 1000, Peers: 1},
			{Port: 53, Protocol: "udp", Direction: traffic.Out, Packets: 400, Peers: 1},
		},
		Top: []traffic.SourceStat{
			{Address: "192.168.1.10", LocalPorts: 1000, LocalHosts: 1, ProbedPorts: 1000, ProbedHosts: 1, Packets: 1000, SYNs: 1000},
			{Address: "198.51.100.7", LocalPorts: 30, LocalHosts: 1, Packets: 60, SYNs: 70, Attempts: 40, AttemptHost: "10.0.0.2", AttemptPort: 22},
			{Address: "10.0.0.9", LocalPorts: 1, LocalHosts: 1, Packets: 90, SYNs: 30, Attempts: 30, AttemptHost: "10.0.0.2", AttemptPort: 8765, Local: true},
		},
		Domains: []traffic.DomainStat{{Domain: "pirate.sea", Queries: 400, Names: 400, MaxLabel: 60}, {Domain: "example.com", Queries: 2, Names: 1, MaxLabel: 7}},
		Note:    "key bound reached: per-key figures partial",
	}
	var ids []int64
	for i, s := range []*traffic.Summary{sum, nil, {Local: traffic.Local{From: traffic.FromInferred}, Note: "no packets"}} {
		id := startRound(t, w, "pcap:x.pcap")
		ids = append(ids, id)
		if s != nil {
			if err := w.AddTraffic(id, s); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.EndRound(id, t0.Add(time.Duration(i+1)*time.Minute), store.Complete, store.Counts{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	all, err := db.Rounds(ctx, store.RoundQuery{Traffic: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[1].Traffic != nil {
		t.Fatalf("got %d rounds, the second with traffic %+v; want 3, the second without", len(all), all[1].Traffic)
	}
	if !reflect.DeepEqual(all[0].Traffic, sum) {
		t.Errorf("summary read back:\ngot  %+v\nwant %+v", all[0].Traffic, sum)
	}
	captured, err := db.Rounds(ctx, store.RoundQuery{Captured: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(captured) != 2 || captured[0].ID != ids[0] || captured[1].ID != ids[2] || captured[0].Traffic != nil {
		t.Errorf("captured rounds %+v, want rounds %d and %d without summaries loaded", captured, ids[0], ids[2])
	}
	tests := []struct {
		q    store.RoundQuery
		want int
	}{
		{store.RoundQuery{}, 3},
		{store.RoundQuery{Captured: true}, 2},
		{store.RoundQuery{Captured: true, AfterID: ids[0]}, 1},
		{store.RoundQuery{Scanned: true}, 0},
	}
	for _, tt := range tests {
		if n, err := db.Count(ctx, tt.q); err != nil || n != tt.want {
			t.Errorf("Count(%+v) = %d, %v; want %d", tt.q, n, err, tt.want)
		}
	}
	if after, err := db.Newest(ctx, store.RoundQuery{Captured: true}, 1); err != nil || after != ids[2]-1 {
		t.Errorf("Newest(captured, 1) = %d, %v; want %d", after, err, ids[2]-1)
	}
	if after, err := db.Newest(ctx, store.RoundQuery{Captured: true}, 5); err != nil || after != ids[0]-1 {
		t.Errorf("Newest(captured, 5) = %d, %v; want %d", after, err, ids[0]-1)
	}
}
