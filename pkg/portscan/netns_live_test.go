//go:build linux

package portscan

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"portwatch/pkg/sock"
)

// helperEnv makes the test binary a helper process instead of running tests: "listen" opens
// wildcard TCP and UDP sockets of both families and holds them until stdin closes; "scan" scans
// every namespace once and prints what it saw (for a run without CAP_SYS_ADMIN).
const helperEnv = "PORTSCAN_NETNS_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "listen":
		os.Exit(listenHelper())
	case "scan":
		os.Exit(scanHelper())
	}
	os.Exit(m.Run())
}

// listenHelper prints one "proto family port" line per socket, then "ready", and waits for stdin
// to close. Wildcard addresses need no loopback up in a new namespace.
func listenHelper() int {
	var lines []string
	for _, l := range []struct{ network, addr string }{{"tcp4", "0.0.0.0:0"}, {"tcp6", "[::]:0"}} {
		ln, err := net.Listen(l.network, l.addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer ln.Close()
		lines = append(lines, fmt.Sprintf("tcp %c %d", l.network[3], ln.Addr().(*net.TCPAddr).Port))
	}
	for _, l := range []struct{ network, addr string }{{"udp4", "0.0.0.0:0"}, {"udp6", "[::]:0"}} {
		c, err := net.ListenPacket(l.network, l.addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer c.Close()
		lines = append(lines, fmt.Sprintf("udp %c %d", l.network[3], c.LocalAddr().(*net.UDPAddr).Port))
	}
	fmt.Println(strings.Join(lines, "\n") + "\nready")
	bufio.NewReader(os.Stdin).ReadString('\n') // until the test closes stdin
	return 0
}

// scanHelper scans with NetnsScanner over netlink and prints each socket as
// "inode proto family port pid" and the scan's error last, "err: <text>" or "err: none".
func scanHelper() int {
	socks, err := NewNetnsScanner("/proc", os.Getenv("PORTSCAN_RUN_NETNS"), true).Scan(context.Background())
	for _, s := range socks {
		fmt.Println(s.Netns.Inode, s.Protocol, s.Family, s.Port, s.PID)
	}
	var ne *NotEnteredError
	switch {
	case err == nil:
		fmt.Println("err: none")
	case errors.As(err, &ne) && errors.Is(err, syscall.EPERM):
		fmt.Printf("err: %d not entered, EPERM\n", len(ne.Missed))
	default:
		fmt.Println("err:", err)
	}
	return 0
}

// helper is a listenHelper process in a network namespace of its own.
type helper struct {
	pid   int
	inode uint64
	socks []sock.Socket // what it listens on, without owner or namespace
	cmd   *exec.Cmd
	stdin interface{ Close() error }
}

// stop ends the helper and waits for it, so its namespace is gone unless mounted.
func (h *helper) stop() {
	h.stdin.Close()
	h.cmd.Wait()
}

// startHelper starts a listenHelper in a new network namespace, stopped at the end of the test.
func startHelper(t testing.TB) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=listen")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("cannot make a network namespace here (needs CAP_SYS_ADMIN): %v", err)
		}
		t.Fatal(err)
	}
	h := &helper{pid: cmd.Process.Pid, cmd: cmd, stdin: stdin}
	t.Cleanup(h.stop)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "ready" {
		var s sock.Socket
		var proto string
		if _, err := fmt.Sscan(sc.Text(), &proto, &s.Family, &s.Port); err != nil {
			t.Fatalf("helper said %q: %v", sc.Text(), err)
		}
		var err error
		if s.Protocol, err = sock.ParseProtocol(proto); err != nil {
			t.Fatalf("helper said %q: %v", sc.Text(), err)
		}
		s.State = sock.Listen
		if s.Protocol == sock.UDP {
			s.State = sock.Unconn
		}
		h.socks = append(h.socks, s)
	}
	if len(h.socks) != 4 {
		t.Fatalf("helper opened %d sockets, want 4 (see its stderr)", len(h.socks))
	}
	if h.inode, err = readNsLink(fmt.Sprintf("/proc/%d/ns/net", h.pid)); err != nil {
		t.Fatal(err)
	}
	return h
}

// find returns the scanned sockets matching want's protocol, family and port in namespace inode.
func find(socks []sock.Socket, want sock.Socket, inode uint64) []sock.Socket {
	var got []sock.Socket
	for _, s := range socks {
		if s.Protocol == want.Protocol && s.Family == want.Family && s.Port == want.Port && s.Netns.Inode == inode {
			got = append(got, s)
		}
	}
	return got
}

// checkHelper checks that socks hold each of h's sockets once, in its namespace, owned by it.
func checkHelper(t *testing.T, socks []sock.Socket, h *helper, name string) {
	t.Helper()
	for _, w := range h.socks {
		got := find(socks, w, h.inode)
		if len(got) != 1 {
			t.Errorf("%s%d port %d in net:[%d]: found %d, want 1", w.Protocol, w.Family, w.Port, h.inode, len(got))
			continue
		}
		s := got[0]
		if s.State != w.State || s.PID != h.pid || s.Process != "portscan.test" || s.Netns.Host || s.Netns.Name != name {
			t.Errorf("got %+v, want state %s, pid %d, process portscan.test, name %q, not host", s, w.State, h.pid, name)
		}
	}
}

func requireProc(t *testing.T) {
	t.Helper()
	if _, err := os.Readlink("/proc/self/ns/net"); err != nil {
		t.Skipf("no /proc namespace links here: %v", err)
	}
}

// TestNetnsScannerLive scans two namespaces made by the test and the test's own, over netlink
// and from the files.
func TestNetnsScannerLive(t *testing.T) {
	requireProc(t)
	a, b := startHelper(t), startHelper(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	self, err := readNsLink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	for _, netlink := range []bool{true, false} {
		t.Run(fmt.Sprintf("netlink=%v", netlink), func(t *testing.T) {
			sc := NewNetnsScanner("/proc", t.TempDir(), netlink)
			ns, err := FindNamespaces("/proc", t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			socks, err := sc.ScanNamespaces(t.Context(), ns)
			if err != nil {
				t.Fatal(err)
			}
			checkHelper(t, socks, a, "")
			checkHelper(t, socks, b, "")
			mine := find(socks, sock.Socket{Protocol: sock.TCP, Family: 4, Port: uint16(ln.Addr().(*net.TCPAddr).Port)}, self)
			if len(mine) != 1 || mine[0].PID != os.Getpid() || mine[0].Netns.Host != (ns.List[0].Inode == self) {
				t.Errorf("own listener: got %+v, want one owned by pid %d, host %v", mine, os.Getpid(), ns.List[0].Inode == self)
			}
		})
	}
}

// TestNetnsScannerKeepsMainThread enters a namespace many times and checks the process still shows
// its own: an entered goroutine once ran on the main thread, which never ends, and left
// /proc/self/net and /proc/self/ns/net in the foreign namespace.
func TestNetnsScannerKeepsMainThread(t *testing.T) {
	requireProc(t)
	self, err := readNsLink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	h := startHelper(t)
	ns := Namespaces{Self: self, List: []Namespace{{Netns: sock.Netns{Inode: h.inode}, PIDs: []int{h.pid}}}}
	sc := NewNetnsScanner("/proc", "", true)
	for range 200 {
		if _, err := sc.ScanNamespaces(t.Context(), ns); err != nil {
			t.Fatal(err)
		}
	}
	if now, err := readNsLink("/proc/self/ns/net"); err != nil || now != self {
		t.Errorf("after the scans the process is in net:[%d] (%v), want net:[%d]", now, err, self)
	}
}

// TestNetnsScannerGone scans a namespace whose only process exited after it was found.
func TestNetnsScannerGone(t *testing.T) {
	requireProc(t)
	keep, gone := startHelper(t), startHelper(t)
	ns, err := FindNamespaces("/proc", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gone.stop()
	socks, err := NewNetnsScanner("/proc", "", true).ScanNamespaces(t.Context(), ns)
	if err != nil {
		t.Fatalf("got %v, want a vanished namespace skipped without error", err)
	}
	for _, s := range socks {
		if s.Netns.Inode == gone.inode {
			t.Errorf("socket %+v of the vanished namespace", s)
		}
	}
	checkHelper(t, socks, keep, "")
}

// mountNetns bind-mounts the namespace of pid at dir/name, as `ip netns add` does under /run/netns,
// and unmounts it at the end of the test.
func mountNetns(t *testing.T, pid int, dir, name string) {
	t.Helper()
	target := filepath.Join(dir, name)
	if err := os.WriteFile(target, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(fmt.Sprintf("/proc/%d/ns/net", pid), target, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount a namespace here: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(target, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", target, err)
		}
	})
}

// TestNetnsScannerMounted names a bind-mounted namespace by its file, and still finds it once its
// last process has gone.
func TestNetnsScannerMounted(t *testing.T) {
	requireProc(t)
	h := startHelper(t)
	run := t.TempDir()
	mountNetns(t, h.pid, run, "pw-test")
	socks, err := NewNetnsScanner("/proc", run, true).Scan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	checkHelper(t, socks, h, "pw-test")

	h.stop()
	ns, err := FindNamespaces("/proc", run)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ns.List, func(n Namespace) bool { return n.Inode == h.inode })
	if i < 0 || ns.List[i].Mount != filepath.Join(run, "pw-test") || ns.List[i].Name != "pw-test" || len(ns.List[i].PIDs) != 0 {
		t.Fatalf("mounted namespace net:[%d] without processes: got %+v", h.inode, ns.List)
	}
	if _, err := NewNetnsScanner("/proc", run, true).ScanNamespaces(t.Context(), ns); err != nil {
		t.Errorf("scan with a namespace of no process: %v", err)
	}
}

// TestNetnsScannerNoSysAdmin scans as root without CAP_SYS_ADMIN (setpriv drops it): a namespace
// with a process is read through that process's /proc/PID/net files; one that is only mounted
// cannot be read, and is reported.
func TestNetnsScannerNoSysAdmin(t *testing.T) {
	requireProc(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv not installed (util-linux)")
	}
	withProc, onlyMounted := startHelper(t), startHelper(t)
	run := t.TempDir()
	mountNetns(t, onlyMounted.pid, run, "pw-mounted")
	onlyMounted.stop()

	cmd := exec.Command(setpriv, "--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin", os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=scan", "PORTSCAN_RUN_NETNS="+run)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("setpriv cannot drop CAP_SYS_ADMIN here: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if got, want := lines[len(lines)-1], "err: 1 not entered, EPERM"; got != want {
		t.Errorf("scan without CAP_SYS_ADMIN ended %q, want %q", got, want)
	}
	seen := make(map[string]bool)
	for _, l := range lines[:len(lines)-1] {
		seen[l] = true
	}
	for _, s := range withProc.socks {
		l := fmt.Sprintf("%d %s %d %d %d", withProc.inode, s.Protocol, s.Family, s.Port, withProc.pid)
		if !seen[l] {
			t.Errorf("socket %q not found through /proc/%d/net", l, withProc.pid)
		}
	}
}

// BenchmarkNetnsScan finds the namespaces and scans the host's and 1, 10 or 50 made for it, each
// holding one helper's four sockets; scripts/bench/portscan.sh reports the cost per namespace.
// Other namespaces on the host are found but not scanned, so the counts are exact.
func BenchmarkNetnsScan(b *testing.B) {
	if _, err := os.Readlink("/proc/self/ns/net"); err != nil {
		b.Skipf("no /proc namespace links here: %v", err)
	}
	var helpers []*helper
	sc := NewNetnsScanner("/proc", "", true)
	for _, n := range []int{1, 10, 50} {
		for len(helpers) < n {
			helpers = append(helpers, startHelper(b))
		}
		mine := func(x Namespace) bool {
			return x.Host || slices.ContainsFunc(helpers[:n], func(h *helper) bool { return h.inode == x.Inode })
		}
		b.Run(fmt.Sprintf("netns=%d", n), func(b *testing.B) {
			var socks []sock.Socket
			for b.Loop() {
				ns, err := FindNamespaces("/proc", "")
				if err != nil {
					b.Fatal(err)
				}
				ns.List = slices.DeleteFunc(ns.List, func(x Namespace) bool { return !mine(x) })
				if socks, err = sc.ScanNamespaces(b.Context(), ns); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(socks)), "sockets")
		})
	}
}
