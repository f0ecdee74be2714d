package capture

import (
	"errors"
	"fmt"
	"net"
	"time"

	"portwatch/pkg/packet"
)

// DefaultSnaplen is the bytes kept per frame when LiveOptions.Snaplen is 0,
// libpcap's largest: collect's --snaplen default and limit.
const DefaultSnaplen = 262144

const defaultReadTimeout = time.Second

// LiveOptions configure a capture on an interface.
type LiveOptions struct {
	Interface    string        // e.g. "eth0"; see DefaultInterface
	Filter       string        // BPF filter, "" for every packet
	Snaplen      int           // bytes kept per packet, at most DefaultSnaplen; 0 means DefaultSnaplen
	Promisc      bool          // promiscuous mode, off by default
	PayloadBytes int           // keep the first N transport payload bytes; 0 keeps none
	ReadTimeout  time.Duration // Next returns ErrTimeout after this long without a packet; 0 means 1 s
}

// liveSource reads packets from a libpcap handle.
type liveSource struct {
	h        *pcapHandle
	linkType uint32
	dec      *decoder
	pkt      packet.Packet
	stats    Stats
}

var _ Source = (*liveSource)(nil)

// OpenLive starts a capture. It fails with *FilterError when the filter does
// not compile and *PermissionError when the process may not capture.
func OpenLive(opt LiveOptions) (Source, error) {
	snap := opt.Snaplen
	if snap <= 0 {
		snap = DefaultSnaplen
	}
	timeout := opt.ReadTimeout
	if timeout <= 0 {
		timeout = defaultReadTimeout
	}
	// Compiled once without the device, so a bad filter is named even
	// where capturing is not permitted.
	if opt.Filter != "" {
		if err := compileFilter(opt.Filter, snap); err != nil {
			return nil, &FilterError{Filter: opt.Filter, Err: err}
		}
	}
	h, err := newPcapHandle(opt.Interface)
	if err != nil {
		return nil, fmt.Errorf("capture on %s: %w", opt.Interface, err)
	}
	if err := h.configure(snap, opt.Promisc, timeout); err != nil {
		h.close()
		return nil, fmt.Errorf("capture on %s: %w", opt.Interface, err)
	}
	if permission, err := h.activate(); err != nil {
		h.close()
		if permission {
			return nil, &PermissionError{Interface: opt.Interface, Err: err}
		}
		return nil, fmt.Errorf("capture on %s: %w", opt.Interface, err)
	}
	if opt.Filter != "" {
		if err := h.setFilter(opt.Interface, opt.Filter); err != nil {
			h.close()
			return nil, &FilterError{Filter: opt.Filter, Err: err}
		}
	}
	return &liveSource{h: h, linkType: h.linkType(), dec: newDecoder(opt.PayloadBytes)}, nil
}

func (s *liveSource) Next() (*packet.Packet, error) {
	if s.h == nil {
		return nil, errors.New("capture closed")
	}
	data, at, length, err := s.h.next()
	if err != nil {
		if errors.Is(err, ErrTimeout) {
			return nil, err
		}
		return nil, fmt.Errorf("read packet: %w", err)
	}
	s.stats.Frames++
	p := &s.pkt
	s.dec.decode(p, data, s.linkType)
	p.Frame, p.Time, p.Length = s.stats.Frames, at, max(length, len(data))
	if p.Malformed {
		s.stats.Malformed++
	}
	return p, nil
}

// Stats asks libpcap for the kernel's drop count while the capture is open.
func (s *liveSource) Stats() Stats {
	if s.h != nil {
		if dropped, err := s.h.dropped(); err == nil {
			s.stats.Dropped = dropped
		}
	}
	return s.stats
}

// Close stops the capture; Stats keeps the last counts.
func (s *liveSource) Close() error {
	if s.h == nil {
		return nil
	}
	s.Stats()
	s.h.close()
	s.h = nil
	return nil
}

// DefaultInterface returns the first interface that is up and not loopback.
func DefaultInterface() (string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("list interfaces: %w", err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagLoopback == 0 {
			return i.Name, nil
		}
	}
	return "", errors.New("no interface is up apart from loopback")
}
