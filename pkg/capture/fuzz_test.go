package capture

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"portwatch/pkg/packet"
	"strings"
	"testing"

	"portwatch/pkg/capture/capturetest"
)

// checkPacket asserts what every decoded frame must satisfy, whatever its bytes.
func checkPacket(t *testing.T, p *packet.Packet, payloadBytes int) {
	t.Helper()
	if p.Protocols == "" && !p.Malformed {
		t.Fatalf("no layer decoded yet not malformed")
	}
	if (p.TCPFlags != -1 && !strings.Contains(p.Protocols, "tcp")) || p.TCPFlags < -1 || p.TCPFlags > 511 {
		t.Fatalf("tcp flags %d with protocols %q", p.TCPFlags, p.Protocols)
	}
	if (p.SrcIP == "") != (p.DstIP == "") {
		t.Fatalf("one address without the other: %q %q", p.SrcIP, p.DstIP)
	}
	if len(p.Payload) > payloadBytes || (payloadBytes == 0 && p.Payload != nil) {
		t.Fatalf("payload of %d bytes with PayloadBytes %d", len(p.Payload), payloadBytes)
	}
	if (p.QryName != "" || p.RespName != "") && !strings.Contains(p.Protocols, "dns") {
		t.Fatalf("dns names without a dns layer: %q", p.Protocols)
	}
}

// FuzzDecode feeds arbitrary frames on the link types the decoder knows.
// Seeds: the frames of capturetest.Mixed, and frames of ../shared/pcaps/malformed
// and corpus/tcpdump-tests kept in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{}, uint32(linkEthernet))
	for _, fr := range capturetest.Mixed(f) {
		f.Add(fr.Data, uint32(linkEthernet))
	}
	d := newDecoder(8)
	f.Fuzz(func(t *testing.T, data []byte, linkType uint32) {
		var p packet.Packet
		d.decode(&p, data, linkType)
		checkPacket(t, &p, 8)
	})
}

// FuzzReadFile feeds arbitrary capture files to the reader and decoder:
// never a panic, and the only ends are io.EOF and *FileError. Seeds:
// capturetest.Mixed as pcap and pcapng, whole and cut inside a record; every
// file of ../shared/pcaps/malformed under 64 KiB when it is here; and the
// small ones kept in testdata/fuzz/FuzzReadFile.
func FuzzReadFile(f *testing.F) {
	frames := capturetest.Mixed(f)
	for _, b := range [][]byte{capturetest.Pcap(f, frames...), capturetest.Pcapng(f, frames...)} {
		f.Add(b)
		f.Add(b[:len(b)-7])
	}
	files, _ := filepath.Glob(filepath.Join(capturetest.SharedDir, "malformed", "*"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := newFileSource("fuzz", bytes.NewReader(data), Options{PayloadBytes: 4})
		if err != nil {
			var fe *FileError
			if !errors.Is(err, ErrNotCapture) && !errors.As(err, &fe) {
				t.Fatalf("open: %v", err)
			}
			return
		}
		// A frame costs at least a record header: a file cannot hold more.
		for n := 0; n <= len(data)/8; n++ {
			p, err := s.Next()
			if err != nil {
				var fe *FileError
				if !errors.Is(err, io.EOF) && !errors.As(err, &fe) {
					t.Fatalf("Next: %v", err)
				}
				return
			}
			checkPacket(t, p, 4)
		}
		t.Fatalf("more frames than the file can hold")
	})
}
