package capture

import (
	"debug/elf"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// openLoopback starts a capture on lo filtered on port, or skips the test
// when this process may not capture (no CAP_NET_RAW): the decoder is
// covered through files by the other tests.
func openLoopback(t *testing.T, filter string, payload int) Source {
	t.Helper()
	s, err := OpenLive(LiveOptions{Interface: "lo", Filter: filter, PayloadBytes: payload, ReadTimeout: 100 * time.Millisecond})
	var perm *PermissionError
	if errors.As(err, &perm) {
		t.Skipf("live capture not permitted here: %v", err)
	}
	if err != nil {
		t.Fatalf("OpenLive: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// seen is what the test keeps of a captured packet.
type seen struct {
	protocols        string
	src, dst         string
	srcPort, dstPort uint16
	flags            int
	payload          string
}

// collect reads packets until done says it has what it needs or 5 s pass.
func collect(t *testing.T, s Source, done func([]seen) bool) []seen {
	t.Helper()
	var got []seen
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && !done(got) {
		p, err := s.Next()
		if errors.Is(err, ErrTimeout) {
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		got = append(got, seen{p.Protocols, p.SrcIP, p.DstIP, p.SrcPort, p.DstPort, p.TCPFlags, string(p.Payload)})
	}
	return got
}

func TestLiveLoopback(t *testing.T) {
	// A listener gives a free port, and the TCP handshake to capture.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	s := openLoopback(t, fmt.Sprintf("port %d", port), 4)

	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	u, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	u.Close()

	const syn, ack = 2, 16
	want := []struct {
		name string
		ok   func(seen) bool
	}{
		{"SYN to the port", func(p seen) bool {
			return p.protocols == "eth:ipv4:tcp" && p.dstPort == port && p.flags == syn && p.dst == "127.0.0.1"
		}},
		{"SYN-ACK from the port", func(p seen) bool {
			return p.protocols == "eth:ipv4:tcp" && p.srcPort == port && p.flags == syn|ack
		}},
		{"UDP datagram with its payload", func(p seen) bool {
			return p.protocols == "eth:ipv4:udp" && p.dstPort == port && p.flags == -1 && p.payload == "ping"
		}},
	}
	all := func(got []seen) bool {
		for _, w := range want {
			found := false
			for _, p := range got {
				found = found || w.ok(p)
			}
			if !found {
				return false
			}
		}
		return true
	}
	got := collect(t, s, all)
	for _, w := range want {
		found := false
		for _, p := range got {
			found = found || w.ok(p)
		}
		if !found {
			t.Errorf("no %s (port %d) among %d packets: %+v", w.name, port, len(got), got)
		}
	}
	for _, p := range got {
		if p.srcPort != port && p.dstPort != port {
			t.Errorf("filter let through %+v", p)
		}
	}
	st := s.Stats()
	if st.Frames != int64(len(got)) || st.Malformed != 0 {
		t.Errorf("Stats() = %+v, want %d frames, 0 malformed", st, len(got))
	}
}

func TestLiveTimeout(t *testing.T) {
	// Port 9 (discard) on loopback: nothing is sent there during the test.
	s := openLoopback(t, "udp port 9 and host 127.0.0.9", 0)
	if _, err := s.Next(); !errors.Is(err, ErrTimeout) {
		t.Errorf("Next() error = %v, want ErrTimeout", err)
	}
}

func TestLiveBadFilter(t *testing.T) {
	tests := []string{"port nonsense", "tcp and", "host 999.1.1.1"}
	for _, filter := range tests {
		t.Run(filter, func(t *testing.T) {
			_, err := OpenLive(LiveOptions{Interface: "lo", Filter: filter})
			var fe *FilterError
			if !errors.As(err, &fe) {
				t.Fatalf("OpenLive error = %v, want *FilterError", err)
			}
			if fe.Filter != filter {
				t.Errorf("FilterError.Filter = %q, want %q", fe.Filter, filter)
			}
		})
	}
}

func TestLiveNoSuchInterface(t *testing.T) {
	_, err := OpenLive(LiveOptions{Interface: "portwatch-none0"})
	if err == nil {
		t.Fatal("OpenLive on a missing interface: no error")
	}
	var perm *PermissionError
	if errors.As(err, &perm) {
		t.Skipf("not permitted to capture, so the missing interface is not reached: %v", err)
	}
}

func TestDefaultInterface(t *testing.T) {
	name, err := DefaultInterface()
	if err != nil {
		t.Skipf("no interface up apart from loopback: %v", err)
	}
	i, err := net.InterfaceByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if i.Flags&net.FlagLoopback != 0 || i.Flags&net.FlagUp == 0 {
		t.Errorf("DefaultInterface() = %s with flags %v, want up and not loopback", name, i.Flags)
	}
}

// TestLibpcapNotLinked: the binary (this test's, with the package in it) does not name
// libpcap among its libraries, so programs that never capture do not load it at start.
func TestLibpcapNotLinked(t *testing.T) {
	f, err := elf.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range libs {
		if strings.HasPrefix(l, "libpcap") {
			t.Errorf("linked against %s: libpcap is loaded at every start", l)
		}
	}
}
