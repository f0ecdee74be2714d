package pcaptl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"time"

	"portwatch/pkg/capture"
	"portwatch/pkg/packet"
)

// Round is one capture round of packets, with what the baselines read.
type Round struct {
	Start  time.Time
	Frames int
	// Distinct TCP and UDP destination and source ports (a frame with
	// neither port set has none).
	DstPorts, SrcPorts int
	TCP, SYN           int // TCP segments, and those with SYN and not ACK
	// Zeek's scan policy: the thresholds crossed in the round, and the
	// highest distinct count over its threshold that its attempts reached
	// (1 or more when it crossed one, or when a crossing less than 5 min
	// before holds it quiet).
	Scans    []Crossing
	ScanPeak float64
}

// PortRatio is distinct destination ports over distinct source ports; a
// round without source ports counts one.
func (r *Round) PortRatio() float64 { return float64(r.DstPorts) / float64(max(r.SrcPorts, 1)) }

// SYNShare is SYNs without ACK over TCP segments; 0 without TCP.
func (r *Round) SYNShare() float64 {
	if r.TCP == 0 {
		return 0
	}
	return float64(r.SYN) / float64(r.TCP)
}

// Cutter cuts packets into rounds as collect --pcap does (pkg/collect): a
// round starts at its first frame, the next at the first frame at or after
// that start + the round length, and a frame whose time goes back stays in
// the current round. (collect also sets aside frames dated before 1990 or
// after tomorrow; timelines have none.) It measures each round for the
// ratio rule and follows the Zeek scan policy across rounds.
type Cutter struct {
	length time.Duration
	rounds []Round
	cur    *Round
	ports  struct{ dst, src map[uint16]bool }
	zeek   *zeek
}

// NewCutter returns a Cutter of rounds of length, local being the monitored side.
func NewCutter(length time.Duration, local []netip.Prefix) *Cutter {
	c := &Cutter{length: length, zeek: newZeek(local)}
	c.ports.dst, c.ports.src = map[uint16]bool{}, map[uint16]bool{}
	return c
}

// Add takes the next packet.
func (c *Cutter) Add(p *packet.Packet) {
	if c.cur == nil || !p.Time.Before(c.cur.Start.Add(c.length)) {
		c.end()
		c.cur = &Round{Start: p.Time}
	}
	r := c.cur
	r.Frames++
	if p.SrcPort != 0 || p.DstPort != 0 {
		c.ports.dst[p.DstPort], c.ports.src[p.SrcPort] = true, true
	}
	if p.TCPFlags >= 0 {
		r.TCP++
		if p.TCPFlags&(synFlag|ackFlag) == synFlag {
			r.SYN++
		}
	}
	c.zeek.add(p)
}

// end closes the current round.
func (c *Cutter) end() {
	if c.cur == nil {
		return
	}
	c.cur.DstPorts, c.cur.SrcPorts = len(c.ports.dst), len(c.ports.src)
	clear(c.ports.dst)
	clear(c.ports.src)
	c.cur.Scans, c.cur.ScanPeak = c.zeek.endRound()
	c.rounds = append(c.rounds, *c.cur)
	c.cur = nil
}

// Rounds ends the current round and returns every round so far.
func (c *Cutter) Rounds() []Round {
	c.end()
	return slices.Clone(c.rounds)
}

// ReadRounds cuts the capture at path into rounds.
func ReadRounds(ctx context.Context, path string, length time.Duration, local []netip.Prefix) ([]Round, error) {
	src, err := capture.OpenFile(ctx, path, capture.Options{})
	if err != nil {
		return nil, fmt.Errorf("cut rounds: %w", err)
	}
	defer src.Close()
	c := NewCutter(length, local)
	for {
		p, err := src.Next()
		if errors.Is(err, io.EOF) {
			return c.Rounds(), nil
		}
		if err != nil {
			return nil, fmt.Errorf("cut rounds: %w", err)
		}
		c.Add(p)
	}
}

// TCP flags as packet.Packet holds them.
const (
	finFlag = 1 << iota
	synFlag
	rstFlag
	pshFlag
	ackFlag
)
