package portscan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"portwatch/pkg/sock"
)

// NetnsScanner lists the sockets of every network namespace on the host: the host's, each
// container's, each `ip netns` one. It finds them with [FindNamespaces] at every scan, enters each
// one but its own on a fresh OS thread (setns(2); the thread ends with the scan of that namespace,
// so no thread of the pool is ever left in a foreign namespace) and reads it like [ProcScanner].
//
// Entering a namespace takes CAP_SYS_ADMIN. Without it a namespace is read through the
// root/<pid>/net files of one of its processes, which takes the right to read that process
// (CAP_SYS_PTRACE or CAP_DAC_READ_SEARCH for other users'); owners likewise. A namespace that
// cannot be read either way is reported in a [*NotEnteredError] returned with the others' sockets;
// one that vanishes during the scan (its last process exits) is skipped without a word.
type NetnsScanner struct {
	proc     ProcScanner
	runNetns string
}

var _ Scanner = (*NetnsScanner)(nil)

// NewNetnsScanner returns a scanner of every namespace under root (usually /proc) and runNetns
// (usually /run/netns); netlink selects sock_diag with the files as fallback, as NewNetlinkScanner.
func NewNetnsScanner(root, runNetns string, netlink bool) *NetnsScanner {
	return &NetnsScanner{proc: ProcScanner{root: root, netlink: netlink}, runNetns: runNetns}
}

// Scan finds the namespaces and scans them all; see ScanNamespaces.
func (s *NetnsScanner) Scan(ctx context.Context) ([]sock.Socket, error) {
	walked := s.walkOwners(ctx)
	ns, err := FindNamespaces(s.proc.root, s.runNetns)
	if err != nil {
		return nil, err
	}
	return s.scan(ctx, ns, walked)
}

// ScanNamespaces lists the sockets of each namespace in ns, in its order, each socket carrying its
// Netns. With a *NotEnteredError the sockets of the namespaces that could be read are returned too.
func (s *NetnsScanner) ScanNamespaces(ctx context.Context, ns Namespaces) ([]sock.Socket, error) {
	return s.scan(ctx, ns, s.walkOwners(ctx))
}

// ownerWalk is the outcome of walkOwners: socket inode -> lowest pid holding it.
type ownerWalk struct {
	owners map[uint64]int
	err    error
}

// walkOwners starts the walk of every process's fds for the sockets' owners. It needs nothing
// from the namespaces or their tables, so it runs beside finding and scanning them (on two cores
// a whole `collect --list` takes ~2 ms less). It records every socket: given the inodes to look
// for it could stop early only once all had an owner, which one kernel socket or one process in
// another pid namespace prevents. The channel is buffered: an early return leaves the walk to
// finish on its own.
func (s *NetnsScanner) walkOwners(ctx context.Context) <-chan ownerWalk {
	walked := make(chan ownerWalk, 1)
	go func() {
		owners := make(map[uint64]int)
		err := s.proc.findOwners(ctx, owners, true)
		walked <- ownerWalk{owners, err}
	}()
	return walked
}

// scan is ScanNamespaces with the owner walk already started.
func (s *NetnsScanner) scan(ctx context.Context, ns Namespaces, walked <-chan ownerWalk) ([]sock.Socket, error) {
	var entries []entry
	var missed []NotEntered
	for _, n := range ns.List {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("scan network namespaces: %w", err)
		}
		start := len(entries)
		var err error
		entries, err = s.scanOne(n, ns.Self, entries)
		if err != nil {
			entries = entries[:start]
			if !isGone(err) {
				missed = append(missed, NotEntered{Netns: n.Netns, Err: err})
			}
			continue
		}
		for i := start; i < len(entries); i++ {
			entries[i].Netns = n.Netns
		}
	}
	w := <-walked
	if w.err != nil {
		return nil, w.err
	}
	socks := s.proc.named(entries, w.owners)
	if len(missed) > 0 {
		return socks, &NotEnteredError{Missed: missed}
	}
	return socks, nil
}

// scanOne appends the sockets of namespace n to dst; self is this process's own, read in place.
// On an error dst may hold part of n's sockets.
func (s *NetnsScanner) scanOne(n Namespace, self uint64, dst []entry) ([]entry, error) {
	if n.Inode == self {
		return s.proc.entries(filepath.Join(s.proc.root, "net"), s.proc.netlink, dst)
	}
	start := len(dst)
	// Into the namespace through its bind mount, else through any of its processes still there.
	ways := make([]string, 0, len(n.PIDs)+1)
	if n.Mount != "" {
		ways = append(ways, n.Mount)
	}
	for _, pid := range n.PIDs {
		ways = append(ways, filepath.Join(s.proc.root, strconv.Itoa(pid), "ns", "net"))
	}
	err := error(errGone)
	for _, way := range ways {
		if dst, err = s.entered(way, n.Inode, dst[:start]); !isGone(err) {
			break
		}
	}
	if err == nil || isGone(err) {
		return dst, err
	}
	// Not let in (no CAP_SYS_ADMIN): a process's net files show its namespace's tables.
	for _, pid := range n.PIDs {
		var ferr error
		dst, ferr = s.proc.entries(filepath.Join(s.proc.root, strconv.Itoa(pid), "net"), false, dst[:start])
		if ferr == nil {
			return dst, nil
		}
		if !isGone(ferr) {
			return dst, errors.Join(err, ferr)
		}
	}
	return dst, err
}

// entered appends the sockets read inside the namespace at path, which must have inode.
func (s *NetnsScanner) entered(path string, inode uint64, dst []entry) ([]entry, error) {
	err := inNetns(path, inode, func() error {
		var err error
		dst, err = s.proc.entries(filepath.Join(s.proc.root, "thread-self", "net"), s.proc.netlink, dst)
		return err
	})
	return dst, err
}

// errGone is a namespace path that now leads to another namespace: its process exited and the pid
// was taken by a process elsewhere.
var errGone = errors.New("namespace gone")

// isGone reports whether err means the namespace or the process it was reached through is gone.
func isGone(err error) bool {
	return errors.Is(err, errGone) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}

// NotEntered is a namespace a scan could not read, and why.
type NotEntered struct {
	sock.Netns
	Err error
}

// NotEnteredError lists the namespaces a scan could not read, usually for want of CAP_SYS_ADMIN.
// It comes with the sockets of the namespaces that could be read: the scan is otherwise good.
type NotEnteredError struct {
	Missed []NotEntered
}

func (e *NotEnteredError) Error() string {
	parts := make([]string, len(e.Missed))
	for i, m := range e.Missed {
		parts[i] = m.Netns.String()
		if m.Name != "" {
			parts[i] += " (" + m.Name + ")"
		}
		parts[i] += ": " + m.Err.Error()
	}
	return fmt.Sprintf("could not enter %d network namespaces (needs CAP_SYS_ADMIN): %s", len(e.Missed), strings.Join(parts, "; "))
}

// Unwrap gives the namespaces' errors, so errors.Is(err, syscall.EPERM) tells a want of permission.
func (e *NotEnteredError) Unwrap() []error {
	errs := make([]error, len(e.Missed))
	for i, m := range e.Missed {
		errs[i] = m.Err
	}
	return errs
}
