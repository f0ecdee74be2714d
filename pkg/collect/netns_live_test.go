//go:build linux

package collect_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"portwatch/pkg/collect"
	"portwatch/pkg/store/storetest"
)

// runNetns is where `ip netns add` bind-mounts named namespaces, and where
// collect's scanner looks for them.
const runNetns = "/run/netns"

// namedNetns makes a network namespace of its own, bind-mounted as /run/netns/name as `ip netns
// add` would, with a TCP listener on 0.0.0.0:port inside; it returns the namespace's inode. The
// mount and the listener go when the test ends. It skips where the test may not make or mount
// namespaces.
func namedNetns(t *testing.T, name string, port int) uint64 {
	t.Helper()
	if err := os.MkdirAll(runNetns, 0o755); err != nil {
		t.Skipf("cannot make %s for a named namespace: %v", runNetns, err)
	}
	target := filepath.Join(runNetns, name)
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		t.Skipf("cannot make the mount point %s: %v", target, err)
	}
	f.Close()
	t.Cleanup(func() { os.Remove(target) })

	done := make(chan madeNetns, 1)
	go onThread(done, func() madeNetns { return makeNetns(target, port) })
	m := <-done
	if m.mounted {
		t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH) })
	}
	if errors.Is(m.err, unix.EPERM) {
		t.Skipf("cannot make a network namespace here (needs CAP_SYS_ADMIN): %v", m.err)
	}
	if m.err != nil {
		t.Fatal(m.err)
	}
	t.Cleanup(func() { m.ln.Close() })
	return m.inode
}

// madeNetns is what makeNetns made.
type madeNetns struct {
	ln      net.Listener
	inode   uint64
	mounted bool
	err     error
}

// onThread runs fn on a locked OS thread other than the main one and sends its result. That
// thread is never unlocked: the runtime ends it with the goroutine rather than reuse it in another
// namespace. The main thread never ends, and /proc/self shows its namespace, so when this
// goroutine has it, it stays there, unmoved, while a new goroutine's thread does the work.
func onThread(done chan<- madeNetns, fn func() madeNetns) {
	runtime.LockOSThread()
	if unix.Gettid() == unix.Getpid() {
		inner := make(chan madeNetns, 1)
		go onThread(inner, fn)
		done <- <-inner
		runtime.UnlockOSThread()
		return
	}
	done <- fn()
}

// makeNetns moves the calling thread into a new network namespace, bind-mounts it at target and
// opens a TCP listener on 0.0.0.0:port in it (the socket is made on this thread).
func makeNetns(target string, port int) (m madeNetns) {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return madeNetns{err: fmt.Errorf("unshare: %w", err)}
	}
	self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
	var st unix.Stat_t
	if err := unix.Stat(self, &st); err != nil {
		return madeNetns{err: err}
	}
	m.inode = st.Ino
	if err := unix.Mount(self, target, "", unix.MS_BIND, ""); err != nil {
		return madeNetns{err: fmt.Errorf("bind mount %s: %w", target, err)}
	}
	m.mounted = true
	m.ln, m.err = net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", port))
	return m
}

// TestLiveRoundStoresNamespaces runs a live round while the same port listens on 0.0.0.0 in the
// host's namespace and in a named one the test made: the round stores two rows, the namespace's
// with its inode and name, the host's with the host mark.
func TestLiveRoundStoresNamespaces(t *testing.T) {
	o := liveOptions(t)
	host, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	port := host.Addr().(*net.TCPAddr).Port
	name := fmt.Sprintf("portwatch-test-%d", os.Getpid())
	inode := namedNetns(t, name, port)
	var hostInode unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &hostInode); err != nil {
		t.Fatal(err)
	}

	if _, err := collect.Collect(context.Background(), o, quiet()); err != nil {
		t.Fatal(err)
	}
	db := storetest.Open(t, o.DB)
	storetest.Integrity(t, db)
	for _, c := range []struct {
		what  string
		query string
		want  int64
	}{
		{"rows of the port", "SELECT count(*) FROM rounds_ports WHERE port_id = ? AND state = 'listen'", 2},
		{"namespace's row", `SELECT count(*) FROM rounds_ports WHERE port_id = ? AND state = 'listen' AND address = '0.0.0.0'
			AND netns = ` + fmt.Sprint(inode) + ` AND netns_host = 0 AND netns_name = '` + name + `'`, 1},
		{"host's row", `SELECT count(*) FROM rounds_ports WHERE port_id = ? AND state = 'listen' AND address = '0.0.0.0'
			AND netns = ` + fmt.Sprint(hostInode.Ino) + ` AND netns_host = 1 AND netns_name IS NULL AND pid = ` + fmt.Sprint(os.Getpid()), 1},
		{"latest_listeners rows", "SELECT count(*) FROM latest_listeners WHERE port = ? AND container IN ('host', '" + name + "')", 2},
	} {
		if got := storetest.Int(t, db, c.query, port); got != c.want {
			t.Errorf("%s: %s = %d, want %d", c.what, c.query, got, c.want)
		}
	}
	if dup := storetest.Int(t, db, `SELECT count(*) FROM (SELECT 1 FROM rounds_ports
		GROUP BY round_id, port_id, protocol, family, address, state, netns HAVING count(*) > 1)`); dup != 0 {
		t.Errorf("%d sockets stored more than once", dup)
	}
}
