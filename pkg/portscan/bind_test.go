package portscan

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"portwatch/pkg/sock"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestBindScanner(t *testing.T) {
	port := func(a net.Addr) uint16 {
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			t.Fatal(err)
		}
		return ap.Port()
	}
	busy := func(proto sock.Protocol, family int, p uint16) sock.Socket {
		addr, state := netip.IPv4Unspecified(), sock.Listen
		if family == 6 {
			addr = netip.IPv6Unspecified()
		}
		if proto == sock.UDP {
			state = sock.Unconn
		}
		return sock.Socket{Protocol: proto, Family: family, Address: addr, Port: p, State: state}
	}
	tests := []struct {
		name string
		open func(t *testing.T) (uint16, []sock.Socket) // opens a socket, returns the port to probe and the want
	}{
		{"tcp4 listener on 127.0.0.1", func(t *testing.T) (uint16, []sock.Socket) {
			p := port(listen(t, "tcp4", "127.0.0.1:0").Addr())
			return p, []sock.Socket{busy(sock.TCP, 4, p)}
		}},
		{"tcp6 listener on ::1 is not seen as ipv4", func(t *testing.T) (uint16, []sock.Socket) {
			p := port(listen(t, "tcp6", "[::1]:0").Addr())
			return p, []sock.Socket{busy(sock.TCP, 6, p)}
		}},
		{"udp4 bound on 127.0.0.1", func(t *testing.T) (uint16, []sock.Socket) {
			p := port(listenUDP(t, "udp4", "127.0.0.1:0").LocalAddr())
			return p, []sock.Socket{busy(sock.UDP, 4, p)}
		}},
		{"port 65535, which the old tool never probed", func(t *testing.T) (uint16, []sock.Socket) {
			listen(t, "tcp4", "127.0.0.1:65535")
			return 65535, []sock.Socket{busy(sock.TCP, 4, 65535)}
		}},
		{"port just freed", func(t *testing.T) (uint16, []sock.Socket) {
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			p := port(ln.Addr())
			ln.Close()
			return p, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, want := tt.open(t)
			got, err := (&BindScanner{First: p, Last: p}).Scan(t.Context())
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestBindScannerFullRange(t *testing.T) {
	if testing.Short() {
		t.Skip("probes all 4x65535 ports, about a second")
	}
	ln := listen(t, "tcp4", "127.0.0.1:0")
	ap, err := netip.ParseAddrPort(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewBindScanner().Scan(t.Context())
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	want := sock.Socket{Protocol: sock.TCP, Family: 4, Address: netip.IPv4Unspecified(), Port: ap.Port(), State: sock.Listen}
	if !slices.Contains(got, want) {
		t.Errorf("%d busy ports, none is the listener %+v", len(got), want)
	}
}

func TestBindScannerCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := NewBindScanner().Scan(ctx)
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("got %v, want context canceled", err)
	}
}

// TestBindScannerUnprivileged checks that ports an unprivileged user may not bind (EACCES) are not
// reported as occupied, the old tool's fault. As root it reruns itself as nobody; every port the
// unprivileged scan reports busy must really be in use by the kernel's own tables.
func TestBindScannerUnprivileged(t *testing.T) {
	if os.Getenv("PORTSCAN_UNPRIVILEGED_CHILD") == "1" {
		socks, err := (&BindScanner{First: 1, Last: 1023}).Scan(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range socks {
			fmt.Printf("busy %s %d\n", s.Protocol, s.Port)
		}
		return
	}
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		t.Skipf("cannot tell which ports are privileged: %v", err)
	}
	if start, err := strconv.Atoi(strings.TrimSpace(string(b))); err != nil || start < 1024 {
		t.Skipf("ports below 1024 are not all privileged here (ip_unprivileged_port_start %s)", b)
	}
	out := runUnprivileged(t)
	inUse, err := NewNetlinkScanner().Scan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var proto sock.Protocol
		var port uint16
		if _, err := fmt.Sscanf(line, "busy %s %d", &proto, &port); err != nil {
			continue // the test framework's own output
		}
		if !slices.ContainsFunc(inUse, func(s sock.Socket) bool { return s.Protocol == proto && s.Port == port }) {
			t.Errorf("unprivileged scan reports %s port %d busy; nothing uses it", proto, port)
		}
	}
}

// runUnprivileged runs TestBindScannerUnprivileged's child half as this user or, as root, as
// nobody from a copy of the test binary that nobody can execute, and returns its output.
func runUnprivileged(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), exe, "-test.run=^TestBindScannerUnprivileged$", "-test.v")
	cmd.Env = append(os.Environ(), "PORTSCAN_UNPRIVILEGED_CHILD=1")
	if os.Geteuid() == 0 {
		dir, err := os.MkdirTemp("", "portscan")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		b, err := os.ReadFile(exe)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Path = filepath.Join(dir, "portscan.test")
		if err := os.WriteFile(cmd.Path, b, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("cannot run the scan unprivileged here: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestBindScannerUnprivileged") {
		t.Fatalf("child scan did not pass:\n%s", out)
	}
	return string(out)
}
