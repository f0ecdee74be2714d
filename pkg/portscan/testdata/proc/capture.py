#!/usr/bin/env python3
"""Captures a real /proc fixture for pkg/portscan: run as `python3 capture.py <case>`.

Opens sockets on loopback in a known set of states, then copies /proc/net/{tcp,tcp6,udp,udp6},
the same tables as raw netlink sock_diag dumps (<case>/sock_diag/, the datagrams concatenated),
this process's comm and its fd links (as a text listing, `<fd> <link target>` a line: the tests
recreate them as real symlinks) into <case>/, and `ss -tuanpe` output into <case>/ss.txt so a
reader can check the decoding by eye. No traffic leaves the host.
"""
import os
import shutil
import socket
import struct
import subprocess
import sys
import time


def tcp_listener(family, addr, v6only=None):
    s = socket.socket(family, socket.SOCK_STREAM)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    s.bind((addr, 0))
    s.listen()
    return s, s.getsockname()[1]


def tcp_pair(family, addr, port):
    c = socket.socket(family, socket.SOCK_STREAM)
    c.connect((addr, port))
    return c


def sock_diag_dump(family, proto):
    """Returns the raw reply to a SOCK_DIAG_BY_FAMILY dump of every state, up to NLMSG_DONE."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 4)  # NETLINK_SOCK_DIAG
    req = struct.pack("=BBBBI", family, proto, 0, 0, 0xFFFFFFFF) + bytes(48)  # inet_diag_req_v2
    s.sendto(struct.pack("=IHHII", 16 + len(req), 20, 0x301, 1, 0) + req, (0, 0))
    out = b""
    while True:
        d = s.recv(32768)
        out += d
        off, done = 0, False
        while off + 16 <= len(d):
            length, typ = struct.unpack_from("=IH", d, off)
            done = done or typ in (2, 3)  # NLMSG_ERROR, NLMSG_DONE
            off += (length + 3) & ~3
        if done:
            s.close()
            return out


def main():
    case = sys.argv[1]
    keep = []

    # TCP listen on 127.0.0.1 with an established pair, a half-closed pair and a time-wait.
    l4, p4 = tcp_listener(socket.AF_INET, "127.0.0.1")
    c1 = tcp_pair(socket.AF_INET, "127.0.0.1", p4)
    a1, _ = l4.accept()
    c2 = tcp_pair(socket.AF_INET, "127.0.0.1", p4)
    a2, _ = l4.accept()
    a2.close()  # a2 -> fin-wait-2, c2 -> close-wait
    c3 = tcp_pair(socket.AF_INET, "127.0.0.1", p4)
    a3, _ = l4.accept()
    c3.close()
    a3.close()  # c3 -> time-wait (inode 0, no owner)
    keep += [l4, c1, a1, c2]

    # TCP listen on :: (dual stack): a v4 client gives an accepted socket on ::ffff:127.0.0.1.
    l6, p6 = tcp_listener(socket.AF_INET6, "::", v6only=0)
    c4 = tcp_pair(socket.AF_INET, "127.0.0.1", p6)
    a4, _ = l6.accept()
    # TCP listen on ::1 with an established pair over ::1.
    l61, p61 = tcp_listener(socket.AF_INET6, "::1")
    c5 = tcp_pair(socket.AF_INET6, "::1", p61)
    a5, _ = l61.accept()
    keep += [l6, c4, a4, l61, c5, a5]

    # UDP: bound on 127.0.0.1, on 0.0.0.0, a connected one, and bound on :: and ::1.
    u1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u1.bind(("127.0.0.1", 0))
    u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u2.bind(("0.0.0.0", 0))
    u3 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u3.connect(u1.getsockname())
    u4 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u4.bind(("::", 0))
    u5 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u5.bind(("::1", 0))
    keep += [u1, u2, u3, u4, u5]

    time.sleep(0.2)  # let the closes above reach their states
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), case)
    os.makedirs(os.path.join(out, "net"), exist_ok=True)
    for name in ("tcp", "tcp6", "udp", "udp6"):
        with open("/proc/net/" + name, "rb") as src, open(os.path.join(out, "net", name), "wb") as dst:
            shutil.copyfileobj(src, dst)
    os.makedirs(os.path.join(out, "sock_diag"), exist_ok=True)
    for name, family, proto in (("tcp", socket.AF_INET, 6), ("tcp6", socket.AF_INET6, 6),
                                ("udp", socket.AF_INET, 17), ("udp6", socket.AF_INET6, 17)):
        with open(os.path.join(out, "sock_diag", name), "wb") as f:
            f.write(sock_diag_dump(family, proto))
    pid = str(os.getpid())
    os.makedirs(os.path.join(out, pid), exist_ok=True)
    shutil.copyfile("/proc/self/comm", os.path.join(out, pid, "comm"))
    with open(os.path.join(out, pid, "fd.txt"), "w") as f:
        for fd in sorted(os.listdir("/proc/self/fd"), key=int):
            try:
                target = os.readlink("/proc/self/fd/" + fd)
            except OSError:
                continue  # the fd listing itself, closed by now
            if not target.startswith("/") or target.startswith("/dev/"):
                f.write("%s %s\n" % (fd, target))  # sockets, pipes, /dev/null; not private paths
    with open(os.path.join(out, "ss.txt"), "w") as f:
        f.write(subprocess.run(["ss", "-tuanpe"], capture_output=True, text=True, check=True).stdout)
    for s in keep:
        s.close()


if __name__ == "__main__":
    main()
