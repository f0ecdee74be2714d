package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"portwatch/pkg/packet"
)

// fileSource reads packets from a pcap or pcapng file.
type fileSource struct {
	path  string
	f     *os.File
	rr    *recordReader
	dec   *decoder
	pkt   packet.Packet
	rec   record // the frame pkt was decoded from
	stats Stats
	err   error // sticky: io.EOF or the *FileError
}

var _ Source = (*fileSource)(nil)

// OpenFile opens a pcap or pcapng capture, told apart by magic number, not
// by name. A file that is neither wraps ErrNotCapture. Opening stays
// interruptible: a FIFO without a writer would block open(2) in a system
// call no signal ends, so OpenFile waits for its writer (one may be about to
// come) only until ctx ends, and returns an error wrapping ctx.Err() then.
// Reads from a FIFO or pipe go through Go's poller, so Close ends one that
// waits; IsStream tells such inputs apart.
func OpenFile(ctx context.Context, path string, opt Options) (Source, error) {
	s, err := openFile(ctx, path, opt)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func openFile(ctx context.Context, path string, opt Options) (*fileSource, error) {
	f, err := open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	s, err := newFileSource(path, f, opt)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.f = f
	return s, nil
}

// IsStream reports whether the capture at path is a FIFO, pipe or device,
// whose reads may wait for ever, rather than a regular file.
func IsStream(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.Mode().IsRegular()
}

// open opens path for reading. O_NONBLOCK makes open(2) return at once even
// for a FIFO without a writer; a regular file is then used as it is, and
// anything else is opened again, blocking, on a goroutine that is left in
// open(2) when ctx ends (it closes the file if a writer comes later).
func open(ctx context.Context, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && st.Mode().IsRegular() {
		// Regular files never wait; give the read back its blocking mode.
		if err = syscall.SetNonblock(int(f.Fd()), false); err == nil {
			return f, nil
		}
	}
	f.Close()
	if err != nil {
		return nil, err
	}
	type opened struct {
		f   *os.File
		err error
	}
	done := make(chan opened) // unbuffered: a result nobody takes is closed
	go func() {
		f, err := os.Open(path)
		select {
		case done <- opened{f, err}:
		case <-ctx.Done():
			if f != nil {
				f.Close()
			}
		}
	}()
	select {
	case o := <-done:
		return o.f, o.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: waiting for a writer: %w", path, ctx.Err())
	}
}

// newFileSource reads the file header from r; it is what tests and the
// fuzzer use without a file on disk.
func newFileSource(path string, r io.Reader, opt Options) (*fileSource, error) {
	rr, err := newRecordReader(r)
	if err != nil {
		var dmg *damage
		if errors.As(err, &dmg) {
			return nil, &FileError{Path: path, Offset: dmg.offset, Frame: 1, Err: dmg.err}
		}
		return nil, fmt.Errorf("open capture %s: %w", path, err)
	}
	return &fileSource{path: path, rr: rr, dec: newDecoder(opt.PayloadBytes)}, nil
}

func (s *fileSource) Next() (*packet.Packet, error) {
	if s.err != nil {
		return nil, s.err
	}
	rec, err := s.rr.next()
	s.stats.Skipped = s.rr.skipped
	if err != nil {
		var dmg *damage
		if errors.As(err, &dmg) {
			s.stats.Skipped++
			err = &FileError{Path: s.path, Offset: dmg.offset, Frame: s.stats.Frames + 1, Err: dmg.err}
		}
		s.err = err
		return nil, err
	}
	s.stats.Frames++
	s.rec = rec
	p := &s.pkt
	s.dec.decode(p, rec.data, rec.linkType)
	p.Frame, p.Time = s.stats.Frames, rec.time
	// Wire length below the captured length is a writer's error; the
	// bytes on hand were on the wire.
	p.Length = max(rec.origLen, len(rec.data))
	if p.Malformed {
		s.stats.Malformed++
	}
	return p, nil
}

func (s *fileSource) Stats() Stats { return s.stats }

func (s *fileSource) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if err != nil {
		return fmt.Errorf("close capture %s: %w", s.path, err)
	}
	return nil
}
