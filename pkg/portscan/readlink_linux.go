package portscan

import (
	"os"
	"syscall"
	"unsafe"
)

// readlinkAt reads the target of the link name in dir into buf, truncated to len(buf). It uses
// readlinkat(2) on the open directory, which the syscall package does not offer, so the kernel
// resolves only the last component instead of the whole root/<pid>/fd/<fd> path for every fd.
func readlinkAt(dir *os.File, name string, buf []byte) (int, error) {
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return 0, err
	}
	n, _, errno := syscall.Syscall6(syscall.SYS_READLINKAT, dir.Fd(), uintptr(unsafe.Pointer(p)),
		uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
