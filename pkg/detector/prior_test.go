package detector

import (
	"math"
	"net/netip"
	"testing"
	"time"

	"portwatch/pkg/features"
	"portwatch/pkg/sock"
	"portwatch/pkg/store"
)

// A host with sshd always listening, a dev server on 3000 half the time, and
// a client opening a fresh ephemeral connection (in 32768..60999) every round.
func TestBasePrior(t *testing.T) {
	l, err := features.NewLayout(features.OccupancyChannels())
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	rounds := make([]store.Round, n)
	start := time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC)
	for i := range rounds {
		socks := []sock.Socket{{Port: 22, Protocol: sock.TCP, State: sock.Listen, Address: netip.MustParseAddr("0.0.0.0")}}
		if i%2 == 0 {
			socks = append(socks, sock.Socket{Port: 3000, Protocol: sock.TCP, State: sock.Listen, Address: netip.MustParseAddr("127.0.0.1")})
		}
		if i%3 == 0 { // occasional listeners across the range: still never pooled
			socks = append(socks, sock.Socket{Port: uint16(1000 + (i*4099)%60000), Protocol: sock.TCP, State: sock.Listen, Address: netip.MustParseAddr("0.0.0.0")})
		}
		socks = append(socks, sock.Socket{Port: uint16(32768 + (i*7919)%28232), Protocol: sock.TCP, State: sock.Established},
			sock.Socket{Port: 40000, Protocol: sock.TCP, State: sock.Established}) // a pool connection, open throughout
		rounds[i] = store.Round{ID: int64(i + 1), Start: start.Add(time.Duration(i) * time.Minute), Sockets: socks}
	}
	ws, err := features.Windows(rounds, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := basePrior(l, ws)
	listen, conn := 0, 2*features.Ports
	tests := []struct {
		name     string
		cell     int
		min, max float64
	}{
		{"always-on listener", listen + 22, 1 - 2*eps, 1},
		{"half-time listener", listen + 3000, 0.49, 0.51},
		{"listener never seen", listen + 4444, 0, eps},
		{"listener never seen between occasional ones", listen + 40001, 0, eps},
		{"listener never seen in the ephemeral range", listen + 45000, 0, eps},
		// one connection a round over 28 blocks of 1024: about 1/28672, at least the floor
		{"fresh ephemeral connection", conn + 45001, pooledFloor, 1.0 / 20000},
		{"connection below the ephemeral range", conn + 1000, 0, eps},
		{"connection open throughout, capped", conn + 40000, ephemeralCap, ephemeralCap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p[tt.cell]; got < tt.min || got > tt.max || math.IsNaN(got) {
				t.Errorf("p: got %g, want in [%g, %g]", got, tt.min, tt.max)
			}
		})
	}
}
