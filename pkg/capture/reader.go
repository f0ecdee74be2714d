package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"time"
)

// The record reader is written here rather than taken from gopacket's pcapgo:
// pcapgo refuses records with caplen > snaplen, which real files contain, and
// a reader that reuses one buffer is faster and streams in constant memory.

const (
	pcapMagicMicro = 0xa1b2c3d4
	pcapMagicNano  = 0xa1b23c4d
	pcapMagicKuz   = 0xa1b2cd34 // Kuznetzov's patched libpcap: 8 more bytes per record header
	pcapngSHB      = 0x0a0d0d0a
	pcapngBOM      = 0x1a2b3c4d

	// maxRecord bounds one record or block; larger means a corrupt length.
	// libpcap allows 256 KiB per packet; pcapng blocks carry options too.
	maxRecord = 16 << 20
	// minSnapLimit is libpcap's largest snaplen (MAXIMUM_SNAPLEN).
	minSnapLimit = 262144
	// linkTypeMask keeps the link type of a pcap header's link-type field
	// and drops the FCS-length and F bits (libpcap's LT_LINKTYPE).
	linkTypeMask = 0x03ffffff
	// maxZeroRecords is how many all-zero pcap records in a row are taken
	// for a zeroed region (a preallocated or wiped file), not frames: each
	// is 16 bytes, so a zeroed megabyte would otherwise be 65536 frames.
	maxZeroRecords = 64
)

// record is one frame as stored in the file. data is valid until the next read.
type record struct {
	data     []byte
	time     time.Time
	origLen  int
	linkType uint32
}

// damage is a read error at a known byte offset; the file cannot be read past it.
type damage struct {
	offset int64
	err    error
}

func (d *damage) Error() string { return fmt.Sprintf("at byte %d: %v", d.offset, d.err) }
func (d *damage) Unwrap() error { return d.err }

// iface is a pcapng interface description.
type iface struct {
	linkType uint32
	snapLen  uint32
	tsResol  uint8 // if_tsresol as stored: bit 7 set = power of 2
	tsOffset int64 // if_tsoffset, seconds
}

// recordReader reads pcap or pcapng records one at a time.
type recordReader struct {
	r      *bufio.Reader
	offset int64 // bytes consumed so far
	buf    []byte
	ng     bool
	order  binary.ByteOrder
	// pcap
	nano     bool
	kuz      bool
	linkType uint32
	snapLen  uint32
	// pcapng
	ifaces  []iface
	skipped int64 // blocks that held a frame that could not be read
	// zeros counts the all-zero pcap records just read, from zeroStart on.
	zeros     int
	zeroStart int64
}

// newRecordReader reads the file header and returns a reader positioned at
// the first record. A file that is neither format wraps ErrNotCapture.
func newRecordReader(r io.Reader) (*recordReader, error) {
	rr := &recordReader{r: bufio.NewReaderSize(r, 256<<10)} // rr.buf grows only for larger records
	magic, err := rr.r.Peek(4)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w (%d bytes, too short)", ErrNotCapture, len(magic))
		}
		return nil, fmt.Errorf("read header: %w", err)
	}
	le, be := binary.LittleEndian.Uint32(magic), binary.BigEndian.Uint32(magic)
	switch {
	case le == pcapngSHB:
		rr.ng = true
		return rr, nil // the section header is read as the first block
	case le == pcapMagicMicro || le == pcapMagicNano || le == pcapMagicKuz:
		rr.order = binary.LittleEndian
	case be == pcapMagicMicro || be == pcapMagicNano || be == pcapMagicKuz:
		rr.order = binary.BigEndian
	default:
		return nil, fmt.Errorf("%w (magic %#08x)", ErrNotCapture, be)
	}
	h, err := rr.read(0, 24)
	if err != nil {
		return nil, err
	}
	m := rr.order.Uint32(h)
	rr.nano = m == pcapMagicNano
	rr.kuz = m == pcapMagicKuz
	rr.snapLen = rr.order.Uint32(h[16:])
	rr.linkType = rr.order.Uint32(h[20:]) & linkTypeMask
	return rr, nil
}

// read returns the next n bytes, valid until the next read: in place in
// the bufio.Reader's buffer when they fit it (copying every record out was
// a sixth of reading a file), else in rr.buf. A short read is damage to the
// record or block that starts at byte start. rr.buf grows with the bytes
// that actually arrive, so a corrupt length in a short file costs no more
// memory than the file.
func (rr *recordReader) read(start int64, n int) ([]byte, error) {
	if n <= rr.r.Size() {
		if b, err := rr.r.Peek(n); err == nil {
			rr.r.Discard(n)
			rr.offset += int64(n)
			return b, nil
		}
	}
	b := rr.buf[:0]
	for len(b) < n {
		chunk := min(n-len(b), 1<<20)
		b = slices.Grow(b, chunk)
		got, err := io.ReadFull(rr.r, b[len(b):len(b)+chunk])
		b = b[:len(b)+got]
		rr.offset += int64(got)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				err = fmt.Errorf("truncated: %d of %d bytes", len(b), n)
			}
			rr.buf = b
			return nil, &damage{offset: start, err: err}
		}
	}
	rr.buf = b
	return b, nil
}

// atEOF reports a clean end of file (no byte left).
func (rr *recordReader) atEOF() bool {
	_, err := rr.r.Peek(1)
	return err != nil
}

// next returns the next frame; io.EOF at a clean end; *damage otherwise.
func (rr *recordReader) next() (record, error) {
	if rr.ng {
		return rr.nextBlock()
	}
	return rr.nextPcap()
}

func (rr *recordReader) nextPcap() (record, error) {
	if rr.atEOF() {
		return record{}, io.EOF
	}
	start := rr.offset
	hl := 16
	if rr.kuz {
		hl = 24
	}
	h, err := rr.read(start, hl)
	if err != nil {
		return record{}, err
	}
	sec, frac := rr.order.Uint32(h), rr.order.Uint32(h[4:])
	capLen, origLen := rr.order.Uint32(h[8:]), rr.order.Uint32(h[12:])
	if capLen > max(rr.snapLen, minSnapLimit) || capLen > maxRecord {
		return record{}, &damage{offset: start, err: fmt.Errorf("record length %d exceeds the largest snapshot length %d", capLen, max(rr.snapLen, minSnapLimit))}
	}
	ns := int64(frac) * 1000
	if rr.nano {
		ns = int64(frac)
	}
	if sec|frac|capLen|origLen == 0 {
		if rr.zeros == 0 {
			rr.zeroStart = start
		}
		if rr.zeros++; rr.zeros >= maxZeroRecords {
			return record{}, &damage{offset: rr.zeroStart, err: fmt.Errorf("%d or more all-zero records in a row: the file is zeroed from here", maxZeroRecords)}
		}
	} else {
		rr.zeros = 0
	}
	data, err := rr.read(start, int(capLen))
	if err != nil {
		return record{}, err
	}
	// A sub-second field >= 1e6 (or 1e9) is kept as written: time.Unix carries it into the seconds.
	return record{data: data, time: time.Unix(int64(sec), ns), origLen: int(origLen), linkType: rr.linkType}, nil
}

func (rr *recordReader) nextBlock() (record, error) {
	for {
		if rr.atEOF() {
			return record{}, io.EOF
		}
		start := rr.offset
		h, err := rr.read(start, 8)
		if err != nil {
			return record{}, err
		}
		typ := rr.orderOr().Uint32(h)
		if typ == pcapngSHB {
			if err := rr.sectionHeader(start, h); err != nil {
				return record{}, err
			}
			continue
		}
		if rr.order == nil {
			return record{}, &damage{offset: start, err: errors.New("pcapng block before the section header")}
		}
		total := rr.order.Uint32(h[4:])
		if total < 12 || total > maxRecord {
			return record{}, &damage{offset: start, err: fmt.Errorf("block length %d out of range", total)}
		}
		body, err := rr.read(start, int(total)-8)
		if err != nil {
			return record{}, err
		}
		if trail := rr.order.Uint32(body[len(body)-4:]); trail != total {
			return record{}, &damage{offset: start, err: fmt.Errorf("block length %d does not match trailing length %d", total, trail)}
		}
		body = body[:len(body)-4]
		rec, ok, err := rr.block(typ, body)
		if err != nil {
			return record{}, &damage{offset: start, err: err}
		}
		if ok {
			return rec, nil
		}
	}
}

// orderOr returns the section's byte order, or little endian before the
// first section (the SHB type reads the same both ways).
func (rr *recordReader) orderOr() binary.ByteOrder {
	if rr.order == nil {
		return binary.LittleEndian
	}
	return rr.order
}

// sectionHeader reads the rest of a section header block whose first 8
// bytes are h, and starts a new section: new byte order, no interfaces.
func (rr *recordReader) sectionHeader(start int64, h []byte) error {
	var lenb [4]byte
	copy(lenb[:], h[4:8])
	bom, err := rr.read(start, 4)
	if err != nil {
		return err
	}
	switch {
	case binary.LittleEndian.Uint32(bom) == pcapngBOM:
		rr.order = binary.LittleEndian
	case binary.BigEndian.Uint32(bom) == pcapngBOM:
		rr.order = binary.BigEndian
	default:
		return &damage{offset: start, err: fmt.Errorf("section header byte-order magic %#x", bom)}
	}
	total := rr.order.Uint32(lenb[:])
	if total < 28 || total > maxRecord {
		return &damage{offset: start, err: fmt.Errorf("section header length %d out of range", total)}
	}
	rest, err := rr.read(start, int(total)-12)
	if err != nil {
		return err
	}
	if trail := rr.order.Uint32(rest[len(rest)-4:]); trail != total {
		return &damage{offset: start, err: fmt.Errorf("block length %d does not match trailing length %d", total, trail)}
	}
	rr.ifaces = rr.ifaces[:0]
	return nil
}

// block interprets one pcapng block body (without type, lengths). ok is
// false for blocks that carry no frame; a frame that cannot be read is
// counted in skipped and passed over, since the block framing is intact.
func (rr *recordReader) block(typ uint32, b []byte) (rec record, ok bool, err error) {
	o := rr.order
	switch typ {
	case 1: // interface description
		if len(b) < 8 {
			return rec, false, fmt.Errorf("interface description block of %d bytes", len(b))
		}
		ifc := iface{linkType: uint32(o.Uint16(b)), snapLen: o.Uint32(b[4:]), tsResol: 6}
		rr.options(b[8:], &ifc)
		rr.ifaces = append(rr.ifaces, ifc)
		return rec, false, nil
	case 6, 2: // enhanced packet; obsolete packet, whose interface id has 2 bytes
		if len(b) < 20 {
			rr.skipped++
			return rec, false, nil
		}
		id, capLen := o.Uint32(b), o.Uint32(b[12:])
		if typ == 2 {
			id = uint32(o.Uint16(b))
		}
		if int64(id) >= int64(len(rr.ifaces)) || int64(capLen) > int64(len(b)-20) {
			rr.skipped++
			return rec, false, nil
		}
		ifc := &rr.ifaces[id]
		ts := uint64(o.Uint32(b[4:]))<<32 | uint64(o.Uint32(b[8:]))
		return record{data: b[20 : 20+capLen], time: ifc.time(ts), origLen: int(o.Uint32(b[16:])), linkType: ifc.linkType}, true, nil
	case 3: // simple packet: interface 0, no timestamp
		if len(b) < 4 || len(rr.ifaces) == 0 {
			rr.skipped++
			return rec, false, nil
		}
		orig := o.Uint32(b)
		capLen := min(uint64(orig), uint64(len(b)-4))
		if s := rr.ifaces[0].snapLen; s > 0 {
			capLen = min(capLen, uint64(s))
		}
		return record{data: b[4 : 4+capLen], origLen: int(orig), linkType: rr.ifaces[0].linkType}, true, nil
	}
	return rec, false, nil // name resolution, statistics, custom...: nothing to return
}

// options reads the IDB options that matter: if_tsresol (9), if_tsoffset (14).
func (rr *recordReader) options(b []byte, ifc *iface) {
	o := rr.order
	for len(b) >= 4 {
		code, n := o.Uint16(b), int(o.Uint16(b[2:]))
		b = b[4:]
		if code == 0 || n > len(b) {
			return
		}
		switch {
		case code == 9 && n >= 1:
			ifc.tsResol = b[0]
		case code == 14 && n >= 8:
			ifc.tsOffset = int64(o.Uint64(b))
		}
		b = b[min(len(b), (n+3)&^3):]
	}
}

// time converts a pcapng timestamp in the interface's units.
func (ifc *iface) time(ts uint64) time.Time {
	var sec, nsec uint64
	v := uint(ifc.tsResol & 0x7f)
	switch {
	case ifc.tsResol&0x80 != 0: // 2^-v
		if v >= 64 {
			break
		}
		sec = ts >> v
		hi, lo := bits.Mul64(ts&(1<<v-1), 1e9)
		if v > 0 {
			nsec = hi<<(64-v) | lo>>v
		}
	case v <= 19: // 10^-v; 10^19 is the largest power of ten in a uint64
		unit := uint64(1)
		for range v {
			unit *= 10
		}
		sec, nsec = ts/unit, ts%unit
		switch {
		case v < 9:
			for range 9 - v {
				nsec *= 10
			}
		case v > 9:
			for range v - 9 {
				nsec /= 10
			}
		}
	}
	return time.Unix(int64(sec)+ifc.tsOffset, int64(nsec))
}
