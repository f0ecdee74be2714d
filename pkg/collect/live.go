package collect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"portwatch/pkg/capture"
	"portwatch/pkg/packet"
	"portwatch/pkg/portscan"
	"portwatch/pkg/store"
	"portwatch/pkg/traffic"
)

// liveReadTimeout bounds how long a packet read blocks, hence how late a
// due scan, the round's end or a signal is noticed.
const liveReadTimeout = 100 * time.Millisecond

// A live round keeps captured packets in memory and writes them in one short
// transaction every liveFlushEvery, or sooner when liveFlushPackets wait:
// the database's write lock is held only while a flush runs, so detect and
// cleanup can write during the round, and a kill loses at most that much.
const (
	liveFlushEvery   = time.Second
	liveFlushPackets = 4096
)

// liveRound runs one live round: a scan every o.ScanInterval from its start
// and, with src, every captured packet, until o.Round has passed or ctx ends.
func liveRound(ctx context.Context, w *store.Writer, sc portscan.Scanner, src capture.Source, o Options, log *slog.Logger, sum *Summary) error {
	start := time.Now()
	id, err := w.StartRound(start, "live")
	if err != nil {
		return err
	}
	// Committed at once: a run killed from here on leaves a running round
	// for the next run to mark interrupted.
	if err := w.Commit(); err != nil {
		return err
	}
	sum.Rounds++
	l := liveState{w: w, id: id, sc: sc, src: src, o: o, log: log, sum: sum, missed: make(map[uint64]bool), nextScan: start, lastFlush: start,
		agg: traffic.New()}
	runErr := joinDistinct(l.run(ctx, start.Add(o.Round)), l.flush())
	status := store.Complete
	if runErr != nil {
		status = store.Interrupted
	}
	l.stopReading()
	sum.Counts = l.counts
	var trafficErr error
	if src != nil {
		// A round without a capture has no summary: its traffic is unknown, not zero.
		trafficErr = w.AddTraffic(id, l.agg.Summarize(interfaceAddrs(log)))
	}
	return joinDistinct(runErr, trafficErr, w.EndRound(id, time.Now(), status, l.counts), w.Commit())
}

// liveState is one live round in progress.
type liveState struct {
	w   *store.Writer
	id  int64
	sc  portscan.Scanner
	src capture.Source
	o   Options
	log *slog.Logger
	sum *Summary

	missed map[uint64]bool // network namespaces not scanned, logged once

	nextScan, lastFlush time.Time
	pending             []packet.Packet // captured since the last flush
	payloads            []byte          // copies of their payloads
	counts              store.Counts    // of src, taken when it closes
	agg                 *traffic.Aggregator
}

func (l *liveState) run(ctx context.Context, deadline time.Time) error {
	for {
		if ctx.Err() != nil {
			return ErrInterrupted
		}
		now := time.Now()
		if !now.Before(deadline) {
			return nil
		}
		if !now.Before(l.nextScan) {
			if err := l.scan(ctx, now); err != nil {
				return err
			}
			// A scan slower than the interval skips the missed ticks.
			for !l.nextScan.After(now) {
				l.nextScan = l.nextScan.Add(l.o.ScanInterval)
			}
		}
		if l.src == nil {
			wake := l.nextScan
			if deadline.Before(wake) {
				wake = deadline
			}
			if err := sleep(ctx, wake.Sub(now)); err != nil {
				return ErrInterrupted
			}
			continue
		}
		if err := l.packet(); err != nil {
			return err
		}
		if len(l.pending) >= liveFlushPackets || now.Sub(l.lastFlush) >= liveFlushEvery {
			if err := l.flush(); err != nil {
				return err
			}
			l.lastFlush = now
		}
	}
}

// scan stores one occupancy scan and commits it.
func (l *liveState) scan(ctx context.Context, at time.Time) error {
	socks, err := l.sc.Scan(ctx)
	if err = missedNetns(err, l.log, l.missed); err != nil {
		if ctx.Err() != nil {
			return ErrInterrupted
		}
		return fmt.Errorf("scan ports: %w", err)
	}
	if err := l.w.AddScan(l.id, at, socks); err != nil {
		return err
	}
	l.sum.Scans++
	l.sum.Ports += len(socks)
	return l.w.Commit()
}

// packet keeps the next captured packet, if one comes within the read
// timeout, for the next flush.
func (l *liveState) packet() error {
	p, err := l.src.Next()
	if errors.Is(err, capture.ErrTimeout) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	l.agg.Add(p)
	l.pending = append(l.pending, *p)
	q := &l.pending[len(l.pending)-1]
	if p.Payload != nil {
		// The capture reuses p.Payload. Earlier packets keep their slices
		// of an outgrown buffer, whose bytes were copied when they came.
		start := len(l.payloads)
		l.payloads = append(l.payloads, p.Payload...)
		q.Payload = l.payloads[start:len(l.payloads):len(l.payloads)]
	}
	if l.o.MaxPackets > 0 && l.src.Stats().Frames >= l.o.MaxPackets {
		// The rest of the round scans only.
		l.stopReading()
	}
	return nil
}

// flush writes the pending packets and commits them with the scans.
func (l *liveState) flush() error {
	for i := range l.pending {
		if err := l.w.AddPacket(l.id, &l.pending[i]); err != nil {
			return err
		}
	}
	l.pending, l.payloads = l.pending[:0], l.payloads[:0]
	return l.w.Commit()
}

// stopReading takes the capture's final counts and reads no more from it;
// Run, which opened it, closes it.
func (l *liveState) stopReading() {
	if l.src == nil {
		return
	}
	l.counts = countsOf(l.src.Stats())
	l.src = nil
}

// sleep waits d or until ctx ends, whichever is first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// openLive opens the live capture, or with BestEffort returns nil (scan
// only) after a warning when capture is not permitted.
func openLive(o Options, log *slog.Logger) (capture.Source, error) {
	iface := o.Interface
	if iface == "" {
		var err error
		if iface, err = capture.DefaultInterface(); err != nil {
			return nil, fmt.Errorf("pick a capture interface (pass -i): %w", err)
		}
	}
	src, err := capture.OpenLive(capture.LiveOptions{
		Interface: iface, Filter: o.Filter, Snaplen: o.Snaplen, Promisc: o.Promisc,
		PayloadBytes: o.PayloadBytes, ReadTimeout: liveReadTimeout,
	})
	var perm *capture.PermissionError
	if errors.As(err, &perm) && o.BestEffort {
		log.Warn("packet capture not permitted; this round scans ports only (--best-effort)", "error", err)
		return nil, nil
	}
	return src, badInput(err)
}
