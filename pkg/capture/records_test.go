package capture

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"portwatch/pkg/capture/capturetest"
)

// TestRecords: Records gives every frame's bytes as written, in pcap and
// pcapng alike, with the decoding Source gives, and the damage after them.
func TestRecords(t *testing.T) {
	frames := capturetest.Mixed(t)
	pcap := capturetest.Pcap(t, frames...)
	tests := []struct {
		name   string
		data   []byte
		frames int // frames before the end or the damage
		damage bool
	}{
		{"pcap", pcap, len(frames), false},
		{"pcapng", capturetest.Pcapng(t, frames...), len(frames), false},
		{"pcap cut inside frame 5", pcap[:capturetest.RecordOffset(frames, 4)+20], 4, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "in.cap")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := OpenRecords(context.Background(), path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			n := 0
			for {
				rec, err := r.Next()
				if err != nil {
					var fe *FileError
					if tt.damage != errors.As(err, &fe) || !tt.damage && err != io.EOF {
						t.Fatalf("after %d frames: got error %v, want damage %v", n, err, tt.damage)
					}
					break
				}
				f := frames[n]
				n++
				if !bytes.Equal(rec.Data, f.Data) || rec.LinkType != 1 {
					t.Fatalf("frame %d: got %d bytes of link type %d, want the %d bytes written, Ethernet", n, len(rec.Data), rec.LinkType, len(f.Data))
				}
				if rec.Packet.Frame != int64(n) || !rec.Packet.Time.Equal(f.Time) || rec.Packet.Length != f.Len() {
					t.Fatalf("frame %d: got packet %d at %v of %d bytes, want %d at %v of %d", n, rec.Packet.Frame, rec.Packet.Time, rec.Packet.Length, n, f.Time, f.Len())
				}
			}
			if n != tt.frames || r.Stats().Frames != int64(n) {
				t.Errorf("frames: got %d (stats %d), want %d", n, r.Stats().Frames, tt.frames)
			}
		})
	}
}
