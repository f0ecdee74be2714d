package portscan

import (
	"bytes"
	"context"
	"flag"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"portwatch/pkg/sock"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// fixturePID is the process that captured testdata/proc/loopback (see its fd.txt).
const fixturePID = 1897

// fixtureRoot recreates testdata/proc/<name> as a /proc root in a temp dir: files are copied and
// each <pid>/fd.txt listing ("<fd> <link target>" a line) becomes <pid>/fd/ with real symlinks.
func fixtureRoot(t *testing.T, name string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("testdata/proc", name))); err != nil {
		t.Fatal(err)
	}
	listings, err := filepath.Glob(filepath.Join(root, "*", "fd.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, listing := range listings {
		b, err := os.ReadFile(listing)
		if err != nil {
			t.Fatal(err)
		}
		fdDir := filepath.Join(filepath.Dir(listing), "fd")
		if err := os.Mkdir(fdDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			fd, target, ok := strings.Cut(line, " ")
			if !ok {
				t.Fatalf("%s:%d: want \"<fd> <link target>\", got %q", listing, i+1, line)
			}
			if err := os.Symlink(target, filepath.Join(fdDir, fd)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Remove(listing); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestProcScannerGolden scans the captured fixture end to end and prints it with WriteTable.
func TestProcScannerGolden(t *testing.T) {
	skipUnlessLittleEndian(t)
	socks, err := NewProcScanner(fixtureRoot(t, "loopback")).Scan(t.Context())
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	var got bytes.Buffer
	if err := WriteTable(&got, socks); err != nil {
		t.Fatal(err)
	}
	golden := "testdata/loopback.table"
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("got\n%s\nwant (%s, -update to rewrite)\n%s", got.Bytes(), golden, want)
	}
}

func TestProcScannerOwners(t *testing.T) {
	skipUnlessLittleEndian(t)
	// The listener on 127.0.0.1:44293 is socket inode 519391, fd 3 of the capturing python3.
	listener := func(socks []sock.Socket) (sock.Socket, bool) {
		i := slices.IndexFunc(socks, func(s sock.Socket) bool { return s.Port == 44293 && s.State == sock.Listen })
		if i < 0 {
			return sock.Socket{}, false
		}
		return socks[i], true
	}
	addProcess := func(t *testing.T, root, pid, comm string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(root, pid, "fd"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, pid, "comm"), []byte(comm+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("socket:[519391]", filepath.Join(root, pid, "fd", "4")); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		change  func(t *testing.T, root string)
		pid     int
		process string
	}{
		{"as captured", func(*testing.T, string) {}, fixturePID, "python3"},
		{"comm gone: exited after its fds were read", func(t *testing.T, root string) {
			if err := os.Remove(filepath.Join(root, strconv.Itoa(fixturePID), "comm")); err != nil {
				t.Fatal(err)
			}
		}, fixturePID, ""},
		{"fd gone: exited, or another user's", func(t *testing.T, root string) {
			if err := os.RemoveAll(filepath.Join(root, strconv.Itoa(fixturePID), "fd")); err != nil {
				t.Fatal(err)
			}
		}, 0, ""},
		{"shared with a lower pid", func(t *testing.T, root string) {
			addProcess(t, root, "42", "sshd")
		}, 42, "sshd"},
		{"shared with a higher pid", func(t *testing.T, root string) {
			addProcess(t, root, "99999", "sshd")
		}, fixturePID, "python3"},
		{"other entries in root are not processes", func(t *testing.T, root string) {
			addProcess(t, root, "self", "sshd")
			addProcess(t, root, "-1", "sshd")
		}, fixturePID, "python3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fixtureRoot(t, "loopback")
			tt.change(t, root)
			socks, err := NewProcScanner(root).Scan(t.Context())
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			got, ok := listener(socks)
			if !ok {
				t.Fatal("listener on port 44293 not found")
			}
			if got.PID != tt.pid || got.Process != tt.process {
				t.Errorf("got owner %d %q, want %d %q", got.PID, got.Process, tt.pid, tt.process)
			}
			// The walk NetnsScanner runs beside its scans records every socket it finds.
			all := map[uint64]int{}
			if err := (&ProcScanner{root: root}).findOwners(t.Context(), all, true); err != nil {
				t.Fatalf("findOwners(all): %v", err)
			}
			if pid, found := all[519391]; pid != tt.pid || found != (tt.pid != 0) {
				t.Errorf("walk of all sockets: owner %d (found %v), want %d", pid, found, tt.pid)
			}
		})
	}
}

func TestProcScannerTables(t *testing.T) {
	skipUnlessLittleEndian(t)
	tests := []struct {
		name    string
		change  func(t *testing.T, root string)
		want    int    // sockets found
		wantErr string // error text, "" for none
	}{
		{"all four tables", func(*testing.T, string) {}, 18, ""},
		{"ipv6 disabled: no tcp6, udp6", func(t *testing.T, root string) {
			remove(t, root, "net/tcp6", "net/udp6")
		}, 11, ""},
		{"no tcp table", func(t *testing.T, root string) {
			remove(t, root, "net/tcp")
		}, 0, "/net/tcp: no such file"},
		{"no udp table", func(t *testing.T, root string) {
			remove(t, root, "net/udp")
		}, 0, "/net/udp: no such file"},
		{"bad line", func(t *testing.T, root string) {
			f, err := os.OpenFile(filepath.Join(root, "net/udp6"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteString("   9: 0000:0000 x\n"); err != nil {
				t.Fatal(err)
			}
		}, 0, "/net/udp6: line 4: 3 fields, want at least 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fixtureRoot(t, "loopback")
			tt.change(t, root)
			socks, err := NewProcScanner(root).Scan(t.Context())
			checkErr(t, err, tt.wantErr)
			if len(socks) != tt.want {
				t.Errorf("got %d sockets, want %d", len(socks), tt.want)
			}
		})
	}
}

func remove(t *testing.T, root string, names ...string) {
	t.Helper()
	for _, name := range names {
		if err := os.Remove(filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestProcScannerCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := NewProcScanner(fixtureRoot(t, "loopback")).Scan(ctx)
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("got %v, want context canceled", err)
	}
}

// TestProcScannerLive opens real sockets and asserts the scanner of this host's /proc sees them,
// owned by this process.
func TestProcScannerLive(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skipf("no /proc socket tables here: %v", err)
	}
	pid := os.Getpid()
	comm := filepath.Base(os.Args[0])
	if len(comm) > 15 {
		comm = comm[:15] // the kernel's TASK_COMM_LEN
	}
	// self is the Socket the scanner should report for local address a of one of ours.
	self := func(t *testing.T, proto sock.Protocol, family int, a net.Addr, state sock.State) sock.Socket {
		t.Helper()
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			t.Fatal(err)
		}
		addr := ap.Addr()
		if family == 4 {
			addr = addr.Unmap()
		}
		return sock.Socket{Protocol: proto, Family: family, Address: addr, Port: ap.Port(), State: state, PID: pid, Process: comm}
	}
	tests := []struct {
		name string
		open func(t *testing.T) []sock.Socket // opens sockets, returns what the scan must show
	}{
		{"tcp4 listener and an established pair", func(t *testing.T) []sock.Socket {
			ln := listen(t, "tcp4", "127.0.0.1:0")
			client, server := connect(t, ln, "tcp4", ln.Addr().String())
			return []sock.Socket{
				self(t, sock.TCP, 4, ln.Addr(), sock.Listen),
				self(t, sock.TCP, 4, client.LocalAddr(), sock.Established),
				self(t, sock.TCP, 4, server.LocalAddr(), sock.Established),
			}
		}},
		{"tcp6 listener on ::", func(t *testing.T) []sock.Socket {
			ln := listen(t, "tcp6", "[::]:0")
			return []sock.Socket{self(t, sock.TCP, 6, ln.Addr(), sock.Listen)}
		}},
		{"dual-stack listener: ipv4 peer is ipv4-mapped, family 6", func(t *testing.T) []sock.Socket {
			ln := listen(t, "tcp", "[::]:0")
			port := ln.Addr().(*net.TCPAddr).Port
			client, server := connect(t, ln, "tcp4", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)).String())
			accepted := self(t, sock.TCP, 6, server.LocalAddr(), sock.Established)
			accepted.Address = netip.MustParseAddr("::ffff:127.0.0.1")
			return []sock.Socket{
				self(t, sock.TCP, 6, ln.Addr(), sock.Listen),
				self(t, sock.TCP, 4, client.LocalAddr(), sock.Established),
				accepted,
			}
		}},
		{"udp4 bound and connected", func(t *testing.T) []sock.Socket {
			bound := listenUDP(t, "udp4", "127.0.0.1:0")
			conn, err := net.DialUDP("udp4", nil, bound.LocalAddr().(*net.UDPAddr))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			return []sock.Socket{
				self(t, sock.UDP, 4, bound.LocalAddr(), sock.Unconn),
				self(t, sock.UDP, 4, conn.LocalAddr(), sock.Established),
			}
		}},
		{"udp6 bound on ::1", func(t *testing.T) []sock.Socket {
			bound := listenUDP(t, "udp6", "[::1]:0")
			return []sock.Socket{self(t, sock.UDP, 6, bound.LocalAddr(), sock.Unconn)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.open(t)
			for _, sc := range liveScanners() {
				got, err := sc.s.Scan(t.Context())
				if err != nil {
					t.Fatalf("%s: Scan: %v", sc.name, err)
				}
				for _, w := range want {
					if !slices.Contains(got, w) {
						var ours bytes.Buffer
						WriteTable(&ours, slices.DeleteFunc(got, func(s sock.Socket) bool { return s.PID != pid }))
						t.Errorf("%s: missing %+v; this process's sockets:\n%s", sc.name, w, ours.String())
					}
				}
			}
		})
	}
}

// liveScanners are the two ways to scan this host: the /proc/net files and netlink.
func liveScanners() []struct {
	name string
	s    *ProcScanner
} {
	return []struct {
		name string
		s    *ProcScanner
	}{{"files", NewProcScanner("/proc")}, {"netlink", NewNetlinkScanner()}}
}

// listen opens a TCP listener closed at the end of the test, skipping when network can't be used
// (for example IPv6 disabled).
func listen(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("cannot listen on %s %s here: %v", network, addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func listenUDP(t *testing.T, network, addr string) *net.UDPConn {
	t.Helper()
	ua, err := net.ResolveUDPAddr(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP(network, ua)
	if err != nil {
		t.Skipf("cannot bind %s %s here: %v", network, addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// connect dials ln at addr and accepts, returning both ends, closed at the end of the test.
func connect(t *testing.T, ln net.Listener, network, addr string) (client, server net.Conn) {
	t.Helper()
	client, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}

func BenchmarkProcScan(b *testing.B) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		b.Skipf("no /proc socket tables here: %v", err)
	}
	for _, sc := range liveScanners() {
		b.Run(sc.name, func(b *testing.B) {
			var n int
			for b.Loop() {
				socks, err := sc.s.Scan(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				n = len(socks)
			}
			b.ReportMetric(float64(n), "sockets")
		})
	}
}
