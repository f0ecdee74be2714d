// Package portscan lists the local ports in use on a host: protocol, family, local address, port,
// state in the names `ss` uses, and the owning process where the system tells it.
//
// Two scanners implement [Scanner]:
//
//   - [ProcScanner] reads the kernel's socket tables, root/net/{tcp,tcp6,udp,udp6}, and finds each
//     socket's owner through the socket:[inode] links in root/<pid>/fd. It binds nothing and changes
//     nothing on the host; one scan costs about a millisecond. Use it wherever /proc exists.
//   - [BindScanner] is the old tool's method for systems without /proc: it tries to bind every port
//     and reports those already taken. It is slow, sees no state or owner, and can briefly take a port
//     from a real service; see its doc comment.
//
// [WriteTable] prints sockets as a table much like `ss -tulpn`.
//
// Reading is kept apart from parsing: the /proc root is a field of ProcScanner, and the parsers take
// an io.Reader, so tests and fuzzers run them on fixtures captured from a real machine
// (testdata/proc/<case>/, made by testdata/proc/capture.py).
package portscan
