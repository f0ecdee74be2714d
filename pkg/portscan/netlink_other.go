//go:build !linux

package portscan

import (
	"errors"
	"fmt"
	"portwatch/pkg/sock"
)

// dumpDiag is Linux's netlink sock_diag; elsewhere ProcScanner reads the root/net files.
func dumpDiag(proto sock.Protocol, family int, dst []entry) ([]entry, error) {
	return dst, fmt.Errorf("sock_diag %s%d: %w", proto, family, errors.ErrUnsupported)
}
