// Package portscan lists the local ports in use on a host: protocol, family, local address, port,
// state in the names `ss` uses, and the owning process where the system tells it.
//
// Two scanners implement [Scanner]:
//
//   - [ProcScanner] reads the kernel's socket tables and finds each socket's owner through the
//     socket:[inode] links in root/<pid>/fd. It binds nothing and changes nothing on the host.
//     [NewNetlinkScanner] gets the tables over netlink sock_diag, a few milliseconds a scan;
//     [NewProcScanner] reads them from root/net/{tcp,tcp6,udp,udp6}, which also works on a copy
//     of /proc but costs more on kernels with a large TCP hash.
//   - [NetnsScanner] does the same in every network namespace on the host ([FindNamespaces]: those of
//     root/*/ns/net and the bind mounts under /run/netns), entering each on an OS thread of its own
//     with setns(2), and marks each socket with its [Netns]. Namespaces it may not enter (no
//     CAP_SYS_ADMIN) are read through root/<pid>/net of one of their processes, or reported in a
//     [*NotEnteredError] that comes with the other namespaces' sockets.
//   - [BindScanner] is the old tool's method for systems without /proc: it tries to bind every port
//     and reports those already taken. It is slow, sees no state or owner, and can briefly take a port
//     from a real service; see its doc comment.
//
// [WriteTable] prints sockets as a table much like `ss -tulpn`.
//
// Reading is kept apart from parsing: the /proc root is a field of ProcScanner, and the parsers take
// an io.Reader (a /proc/net table) or bytes (a netlink reply), so tests and fuzzers run them on
// fixtures captured from a real machine (testdata/proc/<case>/, made by testdata/proc/capture.py).
package portscan
