//go:build !linux

package portscan

import (
	"os"
	"path/filepath"
)

// readlinkAt reads the target of the link name in dir into buf, truncated to len(buf).
func readlinkAt(dir *os.File, name string, buf []byte) (int, error) {
	target, err := os.Readlink(filepath.Join(dir.Name(), name))
	return copy(buf, target), err
}
