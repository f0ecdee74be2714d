#!/usr/bin/env python3
"""The old tool's port scan (port_anomaly_detector), kept as the baseline for scripts/bench/portscan.sh.

For each port 1..65534: make a TCP socket, try to bind it to ('', port), close it; a port whose bind
fails is "occupied". Prints the busy-port count and the loop's wall time in milliseconds, as
`bindscan: <n> busy, <ms> ms`. It binds every free port for a moment: run it on a test host only.
"""
import socket
import time


def scan():
    busy = []
    for port in range(1, 65535):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("", port))
        except OSError:
            busy.append(port)
        finally:
            s.close()
    return busy


if __name__ == "__main__":
    start = time.perf_counter()
    busy = scan()
    ms = (time.perf_counter() - start) * 1e3
    print("bindscan: %d busy, %.1f ms" % (len(busy), ms))
