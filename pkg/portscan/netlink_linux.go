package portscan

import (
	"errors"
	"fmt"
	"portwatch/pkg/sock"
	"syscall"
)

// dumpDiag lists the sockets of proto ("tcp" or "udp") and family (4 or 6) in this process's
// network namespace over netlink sock_diag, appending them to dst. One dump walks the kernel's
// socket hash once; reading /proc/net/tcp walks it twice (the read that finds the end starts over).
func dumpDiag(proto sock.Protocol, family int, dst []entry) ([]entry, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, syscall.NETLINK_INET_DIAG)
	if err != nil {
		return dst, fmt.Errorf("sock_diag socket: %w", err)
	}
	defer syscall.Close(fd)
	if err := syscall.Sendto(fd, diagRequest(proto, family), 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return dst, fmt.Errorf("sock_diag request %s%d: %w", proto, family, err)
	}
	buf := make([]byte, 32<<10) // the kernel's largest dump datagram
	for {
		// MSG_TRUNC: n is the datagram's real size, so a too-small buffer is seen, not ignored.
		n, _, err := syscall.Recvfrom(fd, buf, syscall.MSG_TRUNC)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return dst, fmt.Errorf("sock_diag reply %s%d: %w", proto, family, err)
		}
		if n > len(buf) {
			return dst, fmt.Errorf("sock_diag reply %s%d: datagram of %d bytes, buffer %d", proto, family, n, len(buf))
		}
		var done bool
		dst, done, err = parseDiag(buf[:n], proto, dst)
		if err != nil {
			return dst, fmt.Errorf("sock_diag reply %s%d: %w", proto, family, err)
		}
		if done {
			return dst, nil
		}
	}
}
