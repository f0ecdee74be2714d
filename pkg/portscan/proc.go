package portscan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"portwatch/pkg/sock"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// ProcScanner lists sockets from the kernel's tables, without binding or changing anything on the
// host. It sees the network namespace of the process that reads them.
//
// Owners come from the socket:[inode] links in root/<pid>/fd. Processes whose fds cannot be read
// (other users' when not root) or that exit during the scan leave their sockets with PID 0 and no
// name; that is not an error. A socket shared by several processes is given to the lowest pid.
type ProcScanner struct {
	root    string
	netlink bool // list sockets over netlink sock_diag, the files under root/net only as fallback
}

var _ Scanner = (*ProcScanner)(nil)

// NewProcScanner returns a scanner that reads root/net/{tcp,tcp6,udp,udp6}, root/<pid>/fd and
// root/<pid>/comm; root is usually "/proc".
func NewProcScanner(root string) *ProcScanner {
	return &ProcScanner{root: root}
}

// NewNetlinkScanner returns the fastest scanner for this host's own sockets: it lists them over
// netlink sock_diag and finds owners under /proc. A table the kernel will not dump (no inet_diag or
// udp_diag, a sandbox without netlink) is read from /proc/net instead; the contents are the same.
// On a kernel with a large TCP hash it is several times faster than NewProcScanner("/proc"), whose
// every read of /proc/net/tcp walks the whole hash, and the read that finds the end walks it again.
func NewNetlinkScanner() *ProcScanner {
	return &ProcScanner{root: "/proc", netlink: true}
}

// Scan lists every socket in the tables: TCP (over netlink both families in one dump, in the
// kernel's order; else tcp then tcp6), then udp and udp6. A missing tcp6 or udp6 table (IPv6
// disabled) is not an error.
func (s *ProcScanner) Scan(ctx context.Context) ([]sock.Socket, error) {
	entries, err := s.entries(filepath.Join(s.root, "net"), s.netlink, nil)
	if err != nil {
		return nil, err
	}
	return s.owned(ctx, entries)
}

// entries appends the sockets of the four tables of the calling thread's network namespace to dst:
// over sock_diag when netlink is set, from the files in netDir otherwise or when a dump fails.
func (s *ProcScanner) entries(netDir string, netlink bool, dst []entry) ([]entry, error) {
	tables := [...]struct {
		name   string
		proto  sock.Protocol
		family int
	}{{"tcp", sock.TCP, 4}, {"tcp6", sock.TCP, 6}, {"udp", sock.UDP, 4}, {"udp6", sock.UDP, 6}}
	// TCP of both families in one dump where the kernel still answers it (see diagRequest).
	tcpDone := false
	if netlink {
		n := len(dst)
		var err error
		if dst, err = dumpDiag(sock.TCP, 0, dst); err != nil {
			dst = dst[:n]
		}
		tcpDone = err == nil
	}
	for _, t := range tables {
		if tcpDone && t.proto == sock.TCP {
			continue
		}
		var err error
		if netlink {
			n := len(dst)
			if dst, err = dumpDiag(t.proto, t.family, dst); err == nil {
				continue
			}
			dst = dst[:n] // drop a partial dump; the file has it all
		}
		dst, err = readNet(filepath.Join(netDir, t.name), t.proto, t.family, dst)
		if errors.Is(err, fs.ErrNotExist) && t.family == 6 {
			continue
		}
		if err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// owned turns entries into sockets with their owners, found in one walk of every process's fds:
// socket inodes are unique host-wide, so one walk serves the sockets of every namespace.
func (s *ProcScanner) owned(ctx context.Context, entries []entry) ([]sock.Socket, error) {
	owners := make(map[uint64]int) // socket inode -> pid
	for _, e := range entries {
		if e.inode != 0 {
			owners[e.inode] = 0
		}
	}
	if err := s.findOwners(ctx, owners, false); err != nil {
		return nil, err
	}
	return s.named(entries, owners), nil
}

// named turns entries into sockets with the owners in owners (socket inode -> pid) and their
// process names.
func (s *ProcScanner) named(entries []entry, owners map[uint64]int) []sock.Socket {
	names := make(map[int]string)
	socks := make([]sock.Socket, len(entries))
	for i, e := range entries {
		socks[i] = e.Socket
		pid := owners[e.inode]
		if pid == 0 {
			continue
		}
		name, ok := names[pid]
		if !ok {
			name = s.readComm(pid)
			names[pid] = name
		}
		socks[i].PID, socks[i].Process = pid, name
	}
	return socks
}

// readNet reads one socket table, such as root/net/tcp, appending its rows to dst.
func readNet(path string, proto sock.Protocol, family int, dst []entry) ([]entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return dst, fmt.Errorf("read socket table: %w", err)
	}
	defer f.Close()
	dst, err = parseNet(f, proto, family, dst)
	if err != nil {
		return dst, fmt.Errorf("read socket table %s: %w", path, err)
	}
	return dst, nil
}

// findOwners sets owners[inode] to the lowest pid holding that socket: for every socket it finds
// when all is set, else for the inodes already in owners. Processes it cannot read are skipped:
// they may have exited or belong to another user. It visits pids in ascending order and, for the
// inodes in owners, stops once every socket has its owner.
func (s *ProcScanner) findOwners(ctx context.Context, owners map[uint64]int, all bool) error {
	pids, err := listPIDs(s.root)
	if err != nil {
		return err
	}
	left := len(owners)
	var path []byte   // root/<pid>/fd, rebuilt in place
	var link [64]byte // room for "socket:[<uint64>]"; longer targets are not sockets
	for _, pid := range pids {
		if left == 0 && !all {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("find socket owners: %w", err)
		}
		path = strconv.AppendInt(append(append(path[:0], s.root...), '/'), int64(pid), 10)
		path = append(path, "/fd"...)
		fdDir, err := openDir(string(path))
		if err != nil {
			continue // exited, or another user's
		}
		fds, _ := fdDir.Readdirnames(-1) // a process exiting mid-listing leaves part of a list: use it
		for _, fd := range fds {
			n, err := readlinkAt(fdDir, fd, link[:])
			if errors.Is(err, fs.ErrPermission) {
				break // the check is per process: its other fds are closed to us as well
			}
			if err != nil {
				continue // closed since the listing
			}
			inode, ok := socketInode(link[:n])
			if !ok {
				continue
			}
			if old, seen := owners[inode]; all && !seen {
				owners[inode] = pid
			} else if seen && old == 0 {
				owners[inode] = pid
				left--
			}
		}
		fdDir.Close()
	}
	return nil
}

// listPIDs lists the process ids under root in ascending order.
func listPIDs(root string) ([]int, error) {
	dir, err := openDir(root)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	defer dir.Close()
	names, err := dir.Readdirnames(-1) // unsorted: cheaper than os.ReadDir, which also stats
	if err != nil {
		return nil, fmt.Errorf("list processes in %s: %w", root, err)
	}
	pids := make([]int, 0, len(names))
	for _, name := range names {
		if pid, err := strconv.Atoi(name); err == nil && pid > 0 {
			pids = append(pids, pid) // not self, net, sys, ...
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// openDir opens a directory with syscall.Open: os.Open would first try to register it with the
// network poller, five wasted syscalls for each process.
func openDir(path string) (*os.File, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// readComm returns the process name from root/<pid>/comm, "" if the process is gone.
func (s *ProcScanner) readComm(pid int) string {
	b, err := os.ReadFile(filepath.Join(s.root, strconv.Itoa(pid), "comm"))
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

// socketInode parses an fd link target of the form "socket:[12345]".
func socketInode(link []byte) (uint64, bool) {
	num, ok := bytes.CutPrefix(link, []byte("socket:["))
	if !ok {
		return 0, false
	}
	num, ok = bytes.CutSuffix(num, []byte("]"))
	if !ok {
		return 0, false
	}
	return parseDec(num)
}
