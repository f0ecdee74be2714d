package cleanup_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"portwatch/pkg/cleanup"
	"portwatch/pkg/store"
	"portwatch/pkg/store/storetest"
)

// TestKeepPackets: packet rows older than KeepPackets go, their rounds and
// traffic summaries stay; rounds an anomaly points at keep their packets,
// running rounds are not touched, and rule 2 still takes whole rounds.
func TestKeepPackets(t *testing.T) {
	rounds := []round{
		{age: 3 * day, scored: true, packets: 5},               // 1: packets go, round and summary stay
		{age: 12 * time.Hour, scored: true, packets: 4},        // 2: young: all stays
		{age: 3 * day, scored: true, anomaly: day, packets: 3}, // 3: an anomaly's evidence: stays
		{age: 3 * day, status: store.Running, packets: 2},      // 4: running: untouched
		{age: 10 * day, scored: true, packets: 2},              // 5: stale: the whole round goes (rule 2)
		{age: 2 * day, status: store.Interrupted, packets: 1},  // 6: packets go, even unscored
	}
	for _, dry := range []bool{true, false} {
		db, _ := storetest.New(t)
		fill(t, db, rounds)
		for id := range len(rounds) {
			if _, err := storetest.Raw(t, db).Exec(`INSERT INTO traffic_rounds (round_id, packets, ip_packets, overflow, sources,
				icmp_unreachable, dns_queries, dns_responses, dns_names, dns_max_label, dns_mean_label, dns_entropy, dns_max_entropy,
				dns_txt_null_share, dns_nxdomain_share) VALUES (?, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)`, id+1); err != nil {
				t.Fatal(err)
			}
		}
		opt := defaults
		opt.KeepPackets, opt.DryRun = day, dry
		rep, err := cleanup.Clean(context.Background(), db, opt)
		if err != nil {
			t.Fatal(err)
		}
		if rep.PacketRounds != 2 || rep.OldPackets != 6 || rep.Rounds != 1 || rep.Packets != 2 {
			t.Errorf("dry %v: report %+v, want the packets (6) of 2 kept rounds and 1 round (2 packets) deleted", dry, rep.Deleted)
		}
		if want := "the packets of 2 rounds kept (6 packets)"; !strings.Contains(rep.String(), want) {
			t.Errorf("dry %v: line %q, want it to say %q", dry, rep, want)
		}
		wantRounds, wantPackets, wantSummaries := []int64{1, 2, 3, 4, 6}, int64(4+3+2), int64(5)
		if dry {
			wantRounds, wantPackets, wantSummaries = []int64{1, 2, 3, 4, 5, 6}, 17, 6
		}
		if got := roundIDs(t, db); !slices.Equal(got, wantRounds) {
			t.Errorf("dry %v: rounds left %v, want %v", dry, got, wantRounds)
		}
		if got := count(t, db, "SELECT count(*) FROM packets"); got != wantPackets {
			t.Errorf("dry %v: %d packets left, want %d", dry, got, wantPackets)
		}
		if got := count(t, db, "SELECT count(*) FROM traffic_rounds"); got != wantSummaries {
			t.Errorf("dry %v: %d traffic summaries left, want %d", dry, got, wantSummaries)
		}
		storetest.Integrity(t, db)
	}
}
