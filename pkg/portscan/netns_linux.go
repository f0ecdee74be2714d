package portscan

import (
	"fmt"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// inNetns runs fn on a new OS thread moved into the network namespace at path (a bind mount or a
// root/<pid>/ns/net link), after checking the namespace still has inode. The thread is never
// unlocked: the runtime ends it with the goroutine rather than reuse it in a foreign namespace.
func inNetns(path string, inode uint64, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// The main thread never ends, and /proc/self/net and /proc/PID/ns/net show its namespace:
			// keep it here, unmoved, while another thread does the work.
			errc <- inNetns(path, inode, fn)
			runtime.UnlockOSThread()
			return
		}
		errc <- enterNetns(path, inode, fn)
	}()
	return <-errc
}

func enterNetns(path string, inode uint64, fn func() error) error {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Ino != inode {
		return fmt.Errorf("%s is net:[%d] now, not net:[%d]: %w", path, st.Ino, inode, errGone)
	}
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns %s: %w", path, err)
	}
	return fn()
}

// nsfsInode gives the inode of the namespace bind-mounted at path, false if path is not one.
func nsfsInode(path string) (uint64, bool) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(path, &fs); err != nil || fs.Type != unix.NSFS_MAGIC {
		return 0, false
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, false
	}
	return st.Ino, true
}
