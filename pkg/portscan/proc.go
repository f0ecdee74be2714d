package portscan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ProcScanner lists sockets from the kernel's tables under a /proc root, without binding or
// changing anything on the host. It sees the network namespace of the process that reads root/net.
//
// Owners come from the socket:[inode] links in root/<pid>/fd. Processes whose fds cannot be read
// (other users' when not root) or that exit during the scan leave their sockets with PID 0 and no
// name; that is not an error. A socket shared by several processes is given to the lowest pid.
type ProcScanner struct {
	root string
}

var _ Scanner = (*ProcScanner)(nil)

// NewProcScanner returns a scanner that reads root/net/{tcp,tcp6,udp,udp6}, root/<pid>/fd and
// root/<pid>/comm; root is usually "/proc".
func NewProcScanner(root string) *ProcScanner {
	return &ProcScanner{root: root}
}

// Scan lists every socket in the tables, in table order (tcp, tcp6, udp, udp6). A missing tcp6 or
// udp6 table (IPv6 disabled) is not an error.
func (s *ProcScanner) Scan(ctx context.Context) ([]Socket, error) {
	tables := [...]struct {
		name, proto string
		family      int
	}{{"tcp", "tcp", 4}, {"tcp6", "tcp", 6}, {"udp", "udp", 4}, {"udp6", "udp", 6}}
	var entries []entry
	for _, t := range tables {
		var err error
		entries, err = s.readNet(t.name, t.proto, t.family, entries)
		if errors.Is(err, fs.ErrNotExist) && t.family == 6 {
			continue
		}
		if err != nil {
			return nil, err
		}
	}
	owners := make(map[uint64]int) // socket inode -> pid
	for _, e := range entries {
		if e.inode != 0 {
			owners[e.inode] = 0
		}
	}
	if err := s.findOwners(ctx, owners); err != nil {
		return nil, err
	}
	names := make(map[int]string)
	socks := make([]Socket, len(entries))
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
	return socks, nil
}

// readNet reads one socket table, root/net/<name>, appending its rows to dst.
func (s *ProcScanner) readNet(name, proto string, family int, dst []entry) ([]entry, error) {
	path := filepath.Join(s.root, "net", name)
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

// findOwners sets owners[inode] to the lowest pid holding that socket, for the inodes already in
// owners. Processes it cannot read are skipped: they may have exited or belong to another user.
func (s *ProcScanner) findOwners(ctx context.Context, owners map[uint64]int) error {
	if len(owners) == 0 {
		return nil
	}
	dir, err := os.Open(s.root)
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	names, err := dir.Readdirnames(-1) // unsorted: cheaper than os.ReadDir, order does not matter
	dir.Close()
	if err != nil {
		return fmt.Errorf("list processes in %s: %w", s.root, err)
	}
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid <= 0 {
			continue // self, net, sys, ...
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("find socket owners: %w", err)
		}
		fdDir := filepath.Join(s.root, name, "fd")
		d, err := os.Open(fdDir)
		if err != nil {
			continue
		}
		fds, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(fdDir + "/" + fd)
			if err != nil {
				continue // closed since the listing
			}
			inode, ok := socketInode(link)
			if !ok {
				continue
			}
			if old, want := owners[inode]; want && (old == 0 || pid < old) {
				owners[inode] = pid
			}
		}
	}
	return nil
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
func socketInode(link string) (uint64, bool) {
	num, ok := strings.CutPrefix(link, "socket:[")
	if !ok {
		return 0, false
	}
	num, ok = strings.CutSuffix(num, "]")
	if !ok {
		return 0, false
	}
	return parseDec([]byte(num))
}
