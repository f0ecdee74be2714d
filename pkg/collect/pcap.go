package collect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"time"

	"portwatch/pkg/capture"
	"portwatch/pkg/packet"
	"portwatch/pkg/store"
	"portwatch/pkg/traffic"
)

// fileCommitEvery is how many packets file ingest writes per transaction:
// large, because commits are most of ingest's fixed cost; a kill loses at
// most this many, and re-ingesting the file brings them back.
const fileCommitEvery = 1 << 16

// Ingest reads and decodes a file on one goroutine while another writes to
// SQLite, handing over batches of framesPerBatch; batchesInFlight of them
// bound the memory read ahead, and let decoding go on while the writer
// waits for its turn on a core.
const (
	framesPerBatch  = 256
	batchesInFlight = 8
)

// ingestFiles ingests each file in turn. A bad file does not stop the
// others; every file's error is returned.
func ingestFiles(ctx context.Context, w *store.Writer, o Options, log *slog.Logger, sum *Summary) error {
	// The Writer's goroutine spends its time in cgo calls into SQLite,
	// which give up their P; coming back it needs one, and with the reader
	// and this goroutine holding all of them it waited in the run queue
	// (a sixth of ingest's wall time on two cores, in a trace). One P more
	// is its own.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1))
	var errs []error
	agg := traffic.New()
	for _, path := range o.Pcaps {
		err := ingestFile(ctx, w, path, o, agg, log, sum)
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

// ingestFile stores one capture file's frames in rounds of o.Round of capture
// time, each with its traffic summary. A file ingested before (by content)
// is resumed after its last committed frame, or skipped when complete.
func ingestFile(ctx context.Context, w *store.Writer, path string, o Options, agg *traffic.Aggregator, log *slog.Logger, sum *Summary) error {
	src, err := capture.OpenFile(ctx, path, capture.Options{PayloadBytes: o.PayloadBytes})
	if err != nil && errors.Is(err, ctx.Err()) {
		return ErrInterrupted // a FIFO no writer opened
	}
	if err != nil {
		return badInput(err)
	}
	defer src.Close()
	in := fileIngest{w: w, o: o, sum: sum, source: "pcap:" + filepath.Base(path), agg: agg, local: o.local(),
		earliest: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), latest: time.Now().Add(24 * time.Hour)}
	stream := capture.IsStream(path)
	if !stream {
		done, err := in.openCapture(path, log)
		if err != nil || done {
			return err
		}
	}
	r := startReader(src, stream)
	err = in.run(ctx, r)
	status := store.Complete
	if err != nil && !errors.Is(err, errMaxPackets) {
		status = store.Interrupted
	}
	skipped := r.stop().Skipped
	endErr := in.endRound(status, skipped)
	if endErr == nil && in.tracked {
		in.capture.Frames, in.capture.Round = max(in.capture.Frames, in.last), 0
		in.capture.Complete = err == nil
		endErr = in.w.CaptureProgress(in.capture)
	}
	err = joinDistinct(badInput(err), endErr, w.Commit())
	// Records skipped after the last frame, or in a file without frames, belong to no round.
	sum.Counts.Skipped += skipped - in.skipped
	return err
}

// frame is a packet read ahead, with what the writer needs besides.
type frame struct {
	packet.Packet
	skipped int64 // records the source had skipped when it returned this frame
}

// batch is frames read ahead, then the error that ended the file (io.EOF
// at its end) once the frames are taken.
type batch struct {
	frames   []frame
	payloads []byte // the frames' payloads, copied: the source reuses its buffer
	err      error
}

// reader decodes a file on its own goroutine.
type reader struct {
	src    capture.Source
	stream bool // a pipe or FIFO, whose reads may wait for ever
	full   chan *batch
	free   chan *batch
	done   chan struct{}
	ended  chan struct{}
}

func startReader(src capture.Source, stream bool) *reader {
	r := &reader{src: src, stream: stream, full: make(chan *batch, batchesInFlight), free: make(chan *batch, batchesInFlight),
		done: make(chan struct{}), ended: make(chan struct{})}
	for range batchesInFlight {
		r.free <- &batch{frames: make([]frame, 0, framesPerBatch)}
	}
	go r.read()
	return r
}

func (r *reader) read() {
	defer close(r.ended)
	for {
		var b *batch
		select {
		case b = <-r.free:
		case <-r.done:
			return
		}
		b.frames, b.payloads, b.err = b.frames[:0], b.payloads[:0], nil
		for len(b.frames) < framesPerBatch && b.err == nil {
			var p *packet.Packet
			if p, b.err = r.src.Next(); b.err == nil {
				b.add(p, r.src.Stats().Skipped)
			}
		}
		select {
		case r.full <- b:
		case <-r.done:
			return
		}
		if b.err != nil {
			return
		}
	}
}

func (b *batch) add(p *packet.Packet, skipped int64) {
	b.frames = append(b.frames, frame{Packet: *p, skipped: skipped})
	f := &b.frames[len(b.frames)-1]
	if p.Payload != nil {
		// Earlier frames keep their slices of an outgrown buffer, whose
		// bytes were copied when they came.
		start := len(b.payloads)
		b.payloads = append(b.payloads, p.Payload...)
		f.Payload = b.payloads[start:len(b.payloads):len(b.payloads)]
	}
}

// next returns the next batch; give it back with recycle. A stream's next
// returns ErrInterrupted when ctx ends first (its writer may keep a read
// waiting); a file's batch always comes, and the caller checks ctx after it.
func (r *reader) next(ctx context.Context) (*batch, error) {
	if !r.stream {
		return <-r.full, nil
	}
	select {
	case b := <-r.full:
		return b, nil
	case <-ctx.Done():
		return nil, ErrInterrupted
	}
}

func (r *reader) recycle(b *batch) { r.free <- b }

// stop ends the reader goroutine and returns the source's final counts.
// Closing the source first ends a read waiting on a pipe.
func (r *reader) stop() capture.Stats {
	r.src.Close()
	close(r.done)
	<-r.ended
	return r.src.Stats()
}

// fileRound is the round a file's frames are going into.
type fileRound struct {
	id         int64
	start, end time.Time
	firstFrame int64
	counts     store.Counts
}

// fileIngest is one file's ingest in progress.
type fileIngest struct {
	w       *store.Writer
	o       Options
	sum     *Summary
	source  string
	round   *fileRound // nil before the first frame
	skipped int64      // records skipped and counted in rounds so far
	stored  int64      // frames stored since the last commit
	// Frames outside earliest..latest are counted, not stored: 1970 from
	// zeroed records, years like -146138510290 or 36812 from extreme pcapng
	// time options mean a broken clock or field, and would never expire.
	earliest, latest time.Time
	badTime          int64 // frames with a time outside the window, not yet in a round

	agg   *traffic.Aggregator // the current round's traffic
	local traffic.Local

	// A file ingested before by content is tracked in captures: frames up
	// to capture.Frames are not stored again, and those from replayFrom on
	// (the round a kill interrupted) are counted into that round anew.
	tracked    bool
	capture    store.Capture
	replayFrom int64
	last       int64 // the last frame handled
}

func (in *fileIngest) run(ctx context.Context, r *reader) error {
	for {
		b, err := r.next(ctx)
		if err != nil {
			return err
		}
		for i := range b.frames {
			if err := in.store(&b.frames[i]); err != nil {
				return err
			}
		}
		if b.err == io.EOF {
			return nil
		}
		if b.err != nil {
			return b.err
		}
		r.recycle(b)
		if ctx.Err() != nil {
			return ErrInterrupted
		}
	}
}

// store writes one frame into its round, starting a round when its time has come.
func (in *fileIngest) store(f *frame) error {
	stored := !in.tracked || f.Frame > in.capture.Frames
	if !stored && f.Frame < in.replayFrom {
		in.skipped = f.skipped // in a round an earlier run completed
		return nil
	}
	if stored && in.o.MaxPackets > 0 && in.sum.Counts.Frames >= in.o.MaxPackets {
		return errMaxPackets
	}
	in.last = max(in.last, f.Frame)
	if f.Time.Before(in.earliest) || f.Time.After(in.latest) {
		in.badTime++
		if stored {
			in.sum.Counts.BadTime++
		}
		return nil
	}
	if in.round == nil || !f.Time.Before(in.round.start.Add(in.o.Round)) {
		if err := in.endRound(store.Complete, f.skipped); err != nil {
			return err
		}
		id, err := in.w.StartRound(f.Time, in.source)
		if err != nil {
			return err
		}
		in.round = &fileRound{id: id, start: f.Time, end: f.Time, firstFrame: f.Frame}
		in.sum.Rounds++
	}
	r := in.round
	if f.Time.After(r.end) {
		r.end = f.Time
	}
	r.counts.Frames++
	if f.Malformed {
		r.counts.Malformed++
	}
	in.agg.Add(&f.Packet)
	if !stored {
		in.sum.Resumed++
		return nil
	}
	in.sum.Counts.Frames++
	if f.Malformed {
		in.sum.Counts.Malformed++
	}
	if err := in.w.AddPacket(r.id, &f.Packet); err != nil {
		return err
	}
	if in.stored++; in.stored == fileCommitEvery {
		in.stored = 0
		return in.commit(f.Frame)
	}
	return nil
}

// commit makes the frames up to frame durable, with the capture's progress
// in the same transaction, while decoding goes on; ingestFile's last Commit
// waits for it.
func (in *fileIngest) commit(frame int64) error {
	if in.tracked {
		in.capture.Frames, in.capture.Round, in.capture.RoundFrame = frame, in.round.id, in.round.firstFrame
		if err := in.w.CaptureProgress(in.capture); err != nil {
			return err
		}
	}
	return in.w.CommitAsync()
}

// openCapture looks the file up by content. done is true for a file ingested
// to its end before, which is not ingested again. A file ingested in part
// resumes: its interrupted round is reopened.
func (in *fileIngest) openCapture(path string, log *slog.Logger) (done bool, err error) {
	identity, size, err := captureIdentity(path)
	if err != nil {
		return false, badInput(err)
	}
	if in.capture, err = in.w.OpenCapture(identity, filepath.Base(path), size); err != nil {
		return false, err
	}
	in.tracked = true
	c := in.capture
	switch {
	case c.Complete:
		log.Info("capture already ingested; skipping it", "file", path, "frames", c.Frames)
		in.sum.Captures++
		return true, nil
	case c.Frames == 0:
		return false, nil
	}
	log.Info("capture ingested in part before; resuming", "file", path, "frames_stored", c.Frames)
	in.replayFrom = c.Frames + 1
	if c.Round == 0 {
		return false, nil
	}
	start, ok, err := in.w.ResumeRound(c.Round)
	if err != nil || !ok {
		return false, err
	}
	in.round = &fileRound{id: c.Round, start: start, end: start, firstFrame: c.RoundFrame}
	in.replayFrom = c.RoundFrame
	return false, nil
}

// endRound ends the current round, if any, with the records skipped since
// the previous round ended (skipped is the source's count now).
func (in *fileIngest) endRound(status store.Status, skipped int64) error {
	r := in.round
	if r == nil {
		return nil
	}
	in.round = nil
	r.counts.Skipped = skipped - in.skipped
	r.counts.BadTime, in.badTime = in.badTime, 0
	in.skipped = skipped
	in.sum.Counts.Skipped += r.counts.Skipped
	if err := in.w.AddTraffic(r.id, in.agg.Summarize(in.local)); err != nil {
		return err
	}
	if err := in.w.EndRound(r.id, r.end, status, r.counts); err != nil {
		return fmt.Errorf("end round of %s: %w", in.source, err)
	}
	return nil
}
