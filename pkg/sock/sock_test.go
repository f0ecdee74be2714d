package sock

import (
	"net/netip"
	"testing"
)

func TestProtocolText(t *testing.T) {
	for _, p := range []Protocol{TCP, UDP} {
		got, err := ParseProtocol(p.String())
		if err != nil || got != p {
			t.Errorf("ParseProtocol(%q) = %v, %v; want %v", p.String(), got, err, p)
		}
	}
	if _, err := ParseProtocol("sctp"); err == nil {
		t.Error("ParseProtocol(sctp) succeeded, want an error")
	}
}

// The names are the database's text, as ss prints them.
func TestStateText(t *testing.T) {
	want := map[State]string{
		Listen: "listen", Established: "established", SynSent: "syn-sent", SynRecv: "syn-recv",
		FinWait1: "fin-wait-1", FinWait2: "fin-wait-2", TimeWait: "time-wait", Close: "close",
		CloseWait: "close-wait", LastAck: "last-ack", Closing: "closing", NewSynRecv: "new-syn-recv",
		Unconn: "unconn", Unknown: "unknown",
	}
	for st, name := range want {
		if st.String() != name {
			t.Errorf("State(%d).String() = %q, want %q", st, st.String(), name)
		}
		got, err := ParseState(name)
		if err != nil || got != st {
			t.Errorf("ParseState(%q) = %v, %v; want %v", name, got, err, st)
		}
	}
	if _, err := ParseState("LISTEN"); err == nil {
		t.Error("ParseState(LISTEN) succeeded, want an error: names are lower case")
	}
}

func TestKernelState(t *testing.T) {
	tests := []struct {
		proto Protocol
		st    uint8
		want  State
	}{
		{TCP, 0x01, Established},
		{TCP, 0x07, Close},
		{UDP, 0x07, Unconn},
		{UDP, 0x01, Established},
		{TCP, 0x0A, Listen},
		{TCP, 0x0C, NewSynRecv},
		{TCP, 0x00, Unknown},
		{TCP, 0x0D, Unknown}, // a state a newer kernel added
	}
	for _, tt := range tests {
		if got := KernelState(tt.proto, tt.st); got != tt.want {
			t.Errorf("KernelState(%v, %#x) = %v, want %v", tt.proto, tt.st, got, tt.want)
		}
	}
}

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in     string
		family int
		want   netip.Addr
	}{
		{"0.0.0.0", 4, netip.IPv4Unspecified()},
		{"::", 6, netip.IPv6Unspecified()},
		{"[::1]", 6, netip.IPv6Loopback()},
		{"*", 4, netip.IPv4Unspecified()},
		{"*", 6, netip.IPv6Unspecified()},
		{"::ffff:127.0.0.1", 6, netip.MustParseAddr("::ffff:127.0.0.1")},
	}
	for _, tt := range tests {
		got, err := ParseAddr(tt.in, tt.family)
		if err != nil || got != tt.want {
			t.Errorf("ParseAddr(%q, %d) = %v, %v; want %v", tt.in, tt.family, got, err, tt.want)
		}
	}
	if _, err := ParseAddr("localhost", 4); err == nil {
		t.Error("ParseAddr(localhost) succeeded, want an error")
	}
}
