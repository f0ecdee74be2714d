package capture

import (
	"context"

	"portwatch/pkg/packet"
)

// Record is one frame of a capture file as the file stores it, beside its
// decoding. Data and Packet are valid until the next call to Next.
type Record struct {
	Packet   *packet.Packet // as Source.Next returns it
	Data     []byte         // the bytes captured
	LinkType uint32         // the frame's link type (LINKTYPE_*), FCS bits dropped
}

// Records reads a capture file's frames with their bytes: for tools that
// write captures of their own from real ones (the evaluation's timelines).
// It reads exactly as OpenFile's Source does, damage and all.
type Records struct{ s *fileSource }

// OpenRecords opens a pcap or pcapng capture as OpenFile does.
func OpenRecords(ctx context.Context, path string, opt Options) (*Records, error) {
	s, err := openFile(ctx, path, opt)
	if err != nil {
		return nil, err
	}
	return &Records{s: s}, nil
}

// Next returns the next frame; io.EOF at the end; a *FileError, after
// every good frame before it, when the file is damaged.
func (r *Records) Next() (Record, error) {
	p, err := r.s.Next()
	if err != nil {
		return Record{}, err
	}
	return Record{Packet: p, Data: r.s.rec.data, LinkType: r.s.rec.linkType}, nil
}

// Stats counts what has been read so far.
func (r *Records) Stats() Stats { return r.s.Stats() }

// Close closes the file.
func (r *Records) Close() error { return r.s.Close() }
