package incident

import (
	"strings"
	"testing"
	"time"

	"portwatch/pkg/detector"
	"portwatch/pkg/features"
	"portwatch/pkg/store"
)

// listen is nc's new listener on 0.0.0.0:4444, as explain names it.
var listen = detector.Port{Port: 4444, Protocol: "tcp", State: "listen", Channel: features.TCPListen, Change: "new",
	Address: "0.0.0.0", Process: "nc", Family: "4", Netns: "host", Over: true, Error: 20}

func with(p detector.Port, f func(*detector.Port)) detector.Port {
	f(&p)
	return p
}

func TestCauses(t *testing.T) {
	wild := with(listen, func(p *detector.Port) { p.Channel = features.TCPListenWildcard })
	conn := detector.Port{Port: 50000, Protocol: "tcp", Channel: features.TCPConn, Change: "new", Error: 1}
	small := with(listen, func(p *detector.Port) { p.Port, p.Over, p.Process = 8080, false, "web" })
	tests := []struct {
		name string
		s    detector.Scored
		want string // kind key; ...
	}{
		{"normal", detector.Scored{Ports: []detector.Port{listen}}, ""},
		{"new listener on the wildcard is one cause", detector.Scored{Anomalous: true, Ports: []detector.Port{listen, wild, small}},
			"new_listener tcp/4 0.0.0.0 port 4444 process=nc netns=host"},
		{"rebind", detector.Scored{Anomalous: true, Ports: []detector.Port{wild,
			with(wild, func(p *detector.Port) {
				p.Channel, p.Change, p.Address = features.TCPListenLoopback, "vanished", "127.0.0.1"
			})}},
			"rebound_wildcard tcp port 4444 process=nc netns=host"},
		{"gone", detector.Scored{Anomalous: true, Ports: []detector.Port{with(listen, func(p *detector.Port) { p.Change = "vanished" }),
			with(conn, func(p *detector.Port) { p.Change = "vanished" })}},
			"listener_gone tcp/4 0.0.0.0 port 4444 process=nc netns=host"},
		{"unusual hour outranks new", detector.Scored{Anomalous: true, Ports: []detector.Port{
			with(listen, func(p *detector.Port) { p.Change = "unusual hour" }), listen}},
			"unusual_hour tcp/4 0.0.0.0 port 4444 process=nc netns=host"},
		{"exhaustion", detector.Scored{Anomalous: true, TotalFired: true, Ports: []detector.Port{conn,
			with(conn, func(p *detector.Port) { p.Port = 50001 })}},
			"port_exhaustion tcp connections"},
		{"connections without the total are no cause", detector.Scored{Anomalous: true, Ports: []detector.Port{conn, small}},
			"other tcp/4 0.0.0.0 port 8080 process=web netns=host"},
		{"traffic findings key on source, port and domain", detector.Scored{Anomalous: true, Ports: []detector.Port{small},
			Traffic: []detector.Finding{
				{Kind: "port_scan", Source: "192.168.1.10"},
				{Kind: "syn_flood", Port: 80, Protocol: "tcp"},
				{Kind: "dns_tunnel", Domain: "pirate.sea"},
			}},
			"dns_tunnel ip domain pirate.sea; port_scan ip from 192.168.1.10; syn_flood tcp port 80"},
		{"a burst is the connections as a whole; an unusual minute outranks new", detector.Scored{Anomalous: true,
			Ports:   []detector.Port{with(listen, func(p *detector.Port) { p.Change = "unusual minute" }), listen},
			Traffic: []detector.Finding{{Kind: "burst", Protocol: "tcp", Process: "curl"}}},
			"burst tcp connections process=curl; unusual_minute tcp/4 0.0.0.0 port 4444 process=nc netns=host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range Causes(tt.s) {
				got = append(got, c.Kind+" "+c.Key.String())
			}
			if g := strings.Join(got, "; "); g != tt.want {
				t.Errorf("causes = %q, want %q", g, tt.want)
			}
		})
	}
}

func TestParseAllow(t *testing.T) {
	rules, err := ParseAllow(strings.NewReader("# known services\n8443/tcp process=nginx # the admin UI\n\n53/udp address=127.0.0.53\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || rules[0].String() != "8443/tcp process=nginx" || rules[1].String() != "53/udp address=127.0.0.53" {
		t.Errorf("rules = %v", rules)
	}
	for _, bad := range []struct{ text, want string }{
		{"22/tcp\n8443/sctp\n", "line 2: port \"8443/sctp\""},
		{"22/tcp user=root", "line 1: \"user=root\": unknown field \"user\""},
		{"22/tcp process=", "line 1: \"process=\": want"},
		{"70000/tcp", "line 1: port \"70000/tcp\""},
	} {
		if _, err := ParseAllow(strings.NewReader(bad.text)); err == nil || !strings.HasPrefix(err.Error(), bad.want) {
			t.Errorf("ParseAllow(%q) = %v, want an error starting %q", bad.text, err, bad.want)
		}
	}
}

func TestRuleMatch(t *testing.T) {
	k := Key{Protocol: "tcp", Port: 8443, Process: "nginx,nginx-worker", Address: "0.0.0.0,::"}
	tests := []struct {
		rule Rule
		want bool
	}{
		{Rule{Protocol: "tcp", Port: 8443}, true},
		{Rule{Protocol: "tcp", Port: 8443, Process: "nginx-worker", Address: "::"}, true},
		{Rule{Protocol: "udp", Port: 8443}, false},
		{Rule{Protocol: "tcp", Port: 8443, Process: "ngin"}, false},
		{RuleOf(k), true},
	}
	for _, tt := range tests {
		if got := tt.rule.Match(k); got != tt.want {
			t.Errorf("%v.Match(%v) = %v, want %v", tt.rule, k, got, tt.want)
		}
	}
}

// rounds returns n scored rounds from id first, anomalous with listen
// where on(id).
func rounds(first int64, n int, on func(id int64) bool) []detector.Scored {
	var out []detector.Scored
	for id := first; id < first+int64(n); id++ {
		s := detector.Scored{RoundID: id, Score: 0.5, Ports: []detector.Port{listen}}
		if on(id) {
			s.Anomalous, s.Score = true, 2
		}
		out = append(out, s)
	}
	return out
}

func TestTrackerGroupsAndCloses(t *testing.T) {
	tr, err := NewTracker(nil, nil, 3, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	// Rounds 1-4 and 6 flagged (one quiet round keeps it open), then
	// quiet: closed after 3 rounds; flagged again at 12: a new incident.
	for _, s := range rounds(1, 14, func(id int64) bool { return id <= 4 || id == 6 || id == 12 }) {
		tr.Observe(s)
	}
	ins := tr.Incidents()
	if len(ins) != 2 {
		t.Fatalf("incidents = %+v, want 2", ins)
	}
	first, second := ins[0], ins[1]
	if first.State != store.IncidentClosed || first.FirstRound != 1 || first.LastRound != 6 || first.Rounds != 5 || first.Kind != NewListener {
		t.Errorf("first = %+v, want closed, rounds 1..6, 5 rounds, new_listener", first)
	}
	if second.State != store.IncidentOpen || second.FirstRound != 12 || second.Absent != 2 {
		t.Errorf("second = %+v, want open from 12, absent 2", second)
	}
}

func TestAcceptor(t *testing.T) {
	rs := rounds(1, 3, func(id int64) bool { return id >= 2 })
	other := with(listen, func(p *detector.Port) { p.Port, p.Process = 1337, "socat" })
	rs[2].Ports = append(rs[2].Ports, other)
	a := NewAcceptor([]Rule{{Protocol: "tcp", Port: 4444, Process: "nc"}},
		[]store.Incident{{ID: 9, FirstRound: 100, LastRound: 102}})
	ids, err := a.Accept(t.Context(), rs)
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Accepted || !rs[1].Accepted || rs[2].Accepted {
		t.Errorf("accepted = %v %v %v, want false true false (round 3 has a second cause)", rs[0].Accepted, rs[1].Accepted, rs[2].Accepted)
	}
	if len(ids) != 3 || ids[0] != 100 || ids[2] != 102 {
		t.Errorf("relearn = %v, want 100..102", ids)
	}
	if p := a.Pending(); len(p) != 1 || p[0] != 9 {
		t.Errorf("pending = %v, want [9]", p)
	}
}

// A listener gone and back is one incident, closed by its return, whether
// it was still open or already closed by the quiet rounds between.
func TestTrackerListenerBack(t *testing.T) {
	gone := with(listen, func(p *detector.Port) { p.Change = "vanished" })
	for _, quiet := range []int{1, 5} {
		tr, err := NewTracker(nil, nil, 3, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		seq := []detector.Scored{{RoundID: 1, Anomalous: true, Ports: []detector.Port{gone}}}
		for i := range quiet {
			seq = append(seq, detector.Scored{RoundID: int64(2 + i)})
		}
		seq = append(seq, detector.Scored{RoundID: int64(2 + quiet), Anomalous: true, Ports: []detector.Port{listen}})
		for _, s := range seq {
			tr.Observe(s)
		}
		ins := tr.Incidents()
		if len(ins) != 1 || ins[0].Kind != Gone || ins[0].State != store.IncidentClosed {
			t.Errorf("%d quiet rounds: incidents %+v, want one closed listener_gone", quiet, ins)
		}
	}
}

// A cell naming only its port (its sockets left the window) joins the open
// incident of that port.
func TestTrackerPortOnlyJoins(t *testing.T) {
	gone := with(listen, func(p *detector.Port) { p.Change = "vanished" })
	bare := detector.Port{Port: 4444, Protocol: "tcp", Channel: features.TCPListen, Change: "vanished", Over: true}
	tr, err := NewTracker(nil, nil, 3, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tr.Observe(detector.Scored{RoundID: 1, Anomalous: true, Ports: []detector.Port{gone}})
	tr.Observe(detector.Scored{RoundID: 2, Anomalous: true, Ports: []detector.Port{bare}})
	ins := tr.Incidents()
	if len(ins) != 1 || ins[0].LastRound != 2 || ins[0].Key != "tcp/4 0.0.0.0 port 4444 process=nc netns=host" {
		t.Errorf("incidents %+v, want one, rounds 1..2, keyed on the full listener", ins)
	}
}
