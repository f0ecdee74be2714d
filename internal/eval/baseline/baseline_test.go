package baseline

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"portwatch/internal/eval/quality"
	"portwatch/pkg/features"
	"portwatch/pkg/sock"
	"portwatch/pkg/store"
)

func listen(port uint16, addr string) sock.Socket {
	return sock.Socket{Port: port, Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr(addr), State: sock.Listen}
}

func conn(port uint16) sock.Socket {
	return sock.Socket{Port: port, Protocol: sock.TCP, Family: 4, Address: netip.MustParseAddr("192.168.1.23"), State: sock.Established}
}

// steady returns n rounds cycling through three usual states of a host.
func steady(n int) []store.Round {
	variants := [][]sock.Socket{
		{listen(22, "0.0.0.0"), listen(5432, "127.0.0.1"), conn(40001)},
		{listen(22, "0.0.0.0"), listen(5432, "127.0.0.1"), conn(40001), conn(40002), conn(40003)},
		{listen(22, "0.0.0.0"), listen(5432, "127.0.0.1"), {Port: 68, Protocol: sock.UDP, Family: 4, Address: netip.MustParseAddr("0.0.0.0"), State: sock.Unconn}},
	}
	out := make([]store.Round, n)
	for i := range out {
		out[i] = store.Round{ID: int64(i + 1), Start: time.Unix(int64(60*i), 0), Sockets: variants[i%len(variants)]}
	}
	return out
}

func flagged(vs []quality.Verdict) []int {
	var out []int
	for _, v := range vs {
		if v.Anomalous {
			out = append(out, v.Round)
		}
	}
	return out
}

func detectors(t *testing.T) map[string]quality.Detector {
	l, err := features.NewLayout(features.OccupancyChannels())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]quality.Detector{"new-port": NewUnseen(l), "iqr": NewIQR(l)}
}

func TestBaselines(t *testing.T) {
	// A shell listening on 4444 in round 4 of the test.
	test := steady(9)
	test[4].Sockets = append(slices.Clone(test[4].Sockets), listen(4444, "0.0.0.0"))
	tests := []struct {
		name  string
		train []store.Round
		score []store.Round
		want  []int
	}{
		{"steady timeline again", steady(30), steady(30), nil},
		{"new listener", steady(30), test, []int{4}},
	}
	for _, tt := range tests {
		for name, d := range detectors(t) {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				if err := d.Train(tt.train); err != nil {
					t.Fatal(err)
				}
				vs, err := d.Score(tt.score)
				if err != nil {
					t.Fatal(err)
				}
				if len(vs) != len(tt.score) {
					t.Fatalf("got %d verdicts, want %d", len(vs), len(tt.score))
				}
				if got := flagged(vs); !slices.Equal(got, tt.want) {
					t.Errorf("got flagged rounds %v, want %v", got, tt.want)
				}
			})
		}
	}
}

func TestIQRFences(t *testing.T) {
	l, err := features.NewLayout([]string{features.TCPConn})
	if err != nil {
		t.Fatal(err)
	}
	// Connection counts 1..8: Q1 2.75, Q3 6.25, fences [-2.5, 11.5].
	var train []store.Round
	for n := 1; n <= 8; n++ {
		r := store.Round{ID: int64(n)}
		for p := range n {
			r.Sockets = append(r.Sockets, conn(uint16(40000+p)))
		}
		train = append(train, r)
	}
	d := NewIQR(l)
	if err := d.Train(train); err != nil {
		t.Fatal(err)
	}
	score := []store.Round{train[7], {}}
	for n := 0; n < 13; n++ {
		score[1].Sockets = append(score[1].Sockets, conn(uint16(41000+n)))
	}
	vs, err := d.Score(score)
	if err != nil {
		t.Fatal(err)
	}
	if vs[0].Anomalous || !vs[1].Anomalous {
		t.Errorf("got verdicts %+v, want 8 connections normal and 13 anomalous", vs)
	}
	if got, want := vs[1].Score, (13-11.5)/3.5; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("score of 13 connections: got %v, want %v IQRs past the fence", got, want)
	}
}

func TestScoreBeforeTrain(t *testing.T) {
	for name, d := range detectors(t) {
		if _, err := d.Score(steady(3)); err == nil {
			t.Errorf("%s: Score before Train: got nil error, want one", name)
		}
	}
}
