package capture

import (
	"errors"
	"fmt"
	"io"
	"os"
	"portwatch/pkg/packet"
)

// fileSource reads packets from a pcap or pcapng file.
type fileSource struct {
	path  string
	f     *os.File
	rr    *recordReader
	dec   *decoder
	pkt   packet.Packet
	stats Stats
	err   error // sticky: io.EOF or the *FileError
}

var _ Source = (*fileSource)(nil)

// OpenFile opens a pcap or pcapng capture, told apart by magic number, not
// by name. A file that is neither wraps ErrNotCapture.
func OpenFile(path string, opt Options) (Source, error) {
	f, err := os.Open(path)
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
