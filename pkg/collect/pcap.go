package collect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"portwatch/pkg/capture"
	"portwatch/pkg/store"
)

// fileCommitEvery is how many packets file ingest writes per transaction:
// large, because commits are most of ingest's fixed cost; a kill loses at
// most this many, and re-ingesting the file brings them back.
const fileCommitEvery = 1 << 16

// checkCancelEvery is how many frames pass between looks at the context.
const checkCancelEvery = 1024

// ingestFiles ingests each file in turn. A bad file does not stop the
// others; every file's error is returned.
func ingestFiles(ctx context.Context, w *store.Writer, o Options, sum *Summary) error {
	var errs []error
	for _, path := range o.Pcaps {
		err := ingestFile(ctx, w, path, o, sum)
		if err != nil {
			errs = append(errs, err)
		}
		if errors.Is(err, ErrInterrupted) || errors.Is(err, errMaxPackets) {
			break
		}
	}
	if len(errs) == 1 && errors.Is(errs[0], errMaxPackets) {
		return nil
	}
	return joinDistinct(errs...)
}

// errMaxPackets ends ingest when Options.MaxPackets frames are stored.
var errMaxPackets = errors.New("max packets reached")

// fileRound is the round a file's frames are going into.
type fileRound struct {
	id         int64
	start, end time.Time
	counts     store.Counts
}

// ingestFile stores one capture file's frames in rounds of o.Round of capture time.
func ingestFile(ctx context.Context, w *store.Writer, path string, o Options, sum *Summary) error {
	src, err := capture.OpenFile(path, capture.Options{PayloadBytes: o.PayloadBytes})
	if err != nil {
		return badInput(err)
	}
	defer src.Close()
	in := fileIngest{w: w, src: src, o: o, sum: sum, source: "pcap:" + filepath.Base(path)}
	err = in.run(ctx)
	status := store.Complete
	if err != nil && !errors.Is(err, errMaxPackets) {
		status = store.Interrupted
	}
	err = joinDistinct(badInput(err), in.endRound(status), w.Commit())
	// Records skipped after the last frame, or in a file without frames, belong to no round.
	sum.Counts.Skipped += src.Stats().Skipped - in.skipped
	return err
}

// fileIngest is one file's ingest in progress.
type fileIngest struct {
	w       *store.Writer
	src     capture.Source
	o       Options
	sum     *Summary
	source  string
	round   *fileRound // nil before the first frame
	skipped int64      // records skipped and counted in rounds so far
	pkt     store.Packet
}

func (in *fileIngest) run(ctx context.Context) error {
	for n := int64(1); ; n++ {
		if n%checkCancelEvery == 0 && ctx.Err() != nil {
			return ErrInterrupted
		}
		if in.o.MaxPackets > 0 && in.sum.Counts.Frames >= in.o.MaxPackets {
			return errMaxPackets
		}
		p, err := in.src.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if in.round == nil || !p.Time.Before(in.round.start.Add(in.o.Round)) {
			if err := in.startRound(p.Time); err != nil {
				return err
			}
		}
		r := in.round
		if p.Time.After(r.end) {
			r.end = p.Time
		}
		r.counts.Frames++
		in.sum.Counts.Frames++
		if p.Malformed {
			r.counts.Malformed++
			in.sum.Counts.Malformed++
		}
		packetOf(p, &in.pkt)
		if err := in.w.AddPacket(r.id, &in.pkt); err != nil {
			return err
		}
		if n%fileCommitEvery == 0 {
			if err := in.w.Commit(); err != nil {
				return err
			}
		}
	}
}

// startRound ends the current round complete and starts one at t.
func (in *fileIngest) startRound(t time.Time) error {
	if err := in.endRound(store.Complete); err != nil {
		return err
	}
	id, err := in.w.StartRound(t, in.source)
	if err != nil {
		return err
	}
	in.round = &fileRound{id: id, start: t, end: t}
	in.sum.Rounds++
	return nil
}

// endRound ends the current round, if any, with the records skipped since
// the previous round ended.
func (in *fileIngest) endRound(status store.Status) error {
	r := in.round
	if r == nil {
		return nil
	}
	in.round = nil
	skipped := in.src.Stats().Skipped
	r.counts.Skipped = skipped - in.skipped
	in.skipped = skipped
	in.sum.Counts.Skipped += r.counts.Skipped
	if err := in.w.EndRound(r.id, r.end, status, r.counts); err != nil {
		return fmt.Errorf("end round of %s: %w", in.source, err)
	}
	return nil
}
