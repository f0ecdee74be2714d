//go:build !linux

package portscan

import (
	"errors"
	"fmt"
)

// inNetns is Linux's setns(2); elsewhere there are no network namespaces to enter.
func inNetns(path string, inode uint64, fn func() error) error {
	return fmt.Errorf("enter %s: %w", path, errors.ErrUnsupported)
}

// nsfsInode is Linux's nsfs; elsewhere nothing is a namespace.
func nsfsInode(path string) (uint64, bool) { return 0, false }
