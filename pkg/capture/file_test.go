package capture

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"portwatch/pkg/packet"
	"strconv"
	"strings"
	"testing"

	"portwatch/pkg/capture/capturetest"
)

// frameAt reads path up to frame n and returns a copy of that packet.
func frameAt(t *testing.T, path string, n int64) packet.Packet {
	t.Helper()
	s, err := OpenFile(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for {
		p, err := s.Next()
		if err != nil {
			t.Fatalf("%s: no frame %d: %v", path, n, err)
		}
		if p.Frame == n {
			return *p
		}
	}
}

// readAll reads every frame of a Source, checking what a reader must
// always hold; it returns the frame count and the error that ended it.
func readAll(t *testing.T, s Source) (int64, error) {
	t.Helper()
	var n int64
	for {
		p, err := s.Next()
		if err != nil {
			return n, err
		}
		n++
		if p.Frame != n {
			t.Fatalf("frame %d numbered %d", n, p.Frame)
		}
		if p.Protocols == "" && !p.Malformed {
			t.Fatalf("frame %d: no layer decoded yet not malformed", n)
		}
		if p.Length < 0 || (p.TCPFlags != -1 && !strings.Contains(p.Protocols, "tcp")) {
			t.Fatalf("frame %d: length %d, tcp flags %d with protocols %q", n, p.Length, p.TCPFlags, p.Protocols)
		}
	}
}

// TestReadEveryCapture reads every capture in FILES.tsv (936 files,
// including the tcpdump corpus and the malformed ones) and checks the frame
// count against the manifest's header walker. A file with a truncated
// record yields the frames before it, then a *FileError.
func TestReadEveryCapture(t *testing.T) {
	dir := filepath.Dir(capturetest.Shared(t, "FILES.tsv"))
	f, err := os.Open(filepath.Join(dir, "FILES.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	var files, frames int64
	for sc.Scan() {
		col := strings.Split(sc.Text(), "\t")
		if len(col) < 10 {
			t.Fatalf("FILES.tsv line %q: %d columns", sc.Text(), len(col))
		}
		path, anomalies := col[0], col[9]
		want, err := strconv.ParseInt(col[2], 10, 64)
		if err != nil {
			t.Fatalf("FILES.tsv %s packets %q: %v", path, col[2], err)
		}
		truncated := strings.Contains(anomalies, "truncated")
		if truncated {
			want-- // the damaged record is not a frame
		}
		t.Run(path, func(t *testing.T) {
			s, err := OpenFile(context.Background(), filepath.Join(dir, path), Options{PayloadBytes: 16})
			if err != nil {
				t.Fatalf("OpenFile: %v", err)
			}
			defer s.Close()
			got, err := readAll(t, s)
			var fe *FileError
			switch {
			case truncated && !errors.As(err, &fe):
				t.Errorf("end: got %v, want *FileError", err)
			case !truncated && !errors.Is(err, io.EOF):
				t.Errorf("end: got %v, want io.EOF", err)
			}
			if got != want {
				t.Errorf("frames: got %d, want %d", got, want)
			}
			if st := s.Stats(); st.Frames != got {
				t.Errorf("Stats().Frames = %d, want %d", st.Frames, got)
			}
			frames += got
		})
		files++
	}
	t.Logf("%d files, %d frames read", files, frames)
}

// TestPayloadBytes: payload bytes only when asked, never more than asked.
func TestPayloadBytes(t *testing.T) {
	// dns/ndpi_dns.pcap frame 1's UDP payload, a 34-byte DNS message, in a generated frame.
	const msg = "dca28180000100000000000003777777016c06676f6f676c6503636f6d00001c0001"
	b, err := hex.DecodeString(msg)
	if err != nil {
		t.Fatal(err)
	}
	e := capturetest.Endpoints{Src: "10.0.0.1", Dst: "10.0.0.2", SrcPort: 53, DstPort: 33000}
	path := capturetest.Temp(t, "dns.pcap", capturetest.UDP(t, capturetest.Start, e, b))
	tests := []struct {
		n    int
		want string // hex; "nil" for no slice at all
	}{
		{0, "nil"},
		{-1, "nil"},
		{4, msg[:8]},
		{1 << 16, msg},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.n), func(t *testing.T) {
			s, err := OpenFile(context.Background(), path, Options{PayloadBytes: tt.n})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			p, err := s.Next()
			if err != nil {
				t.Fatal(err)
			}
			got := hex.EncodeToString(p.Payload)
			if p.Payload == nil {
				got = "nil"
			}
			if got != tt.want {
				t.Errorf("payload: got %s, want %s", got, tt.want)
			}
		})
	}
}
