#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A small TCP forwarder for the cluster-lock tests: LISTEN_PORT -> HOST:PORT
# on 127.0.0.1, one thread pair per connection. A test cuts the "path" by
# SIGSTOP (a black hole: connections hang, as with a pulled cable) and
# restores it with SIGCONT. Not for: anything but tests.
import socket, sys, threading

def pump(src, dst):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

def serve(lport, host, port, start):
    """Accept on 127.0.0.1:lport; for each client c, connect u to host:port
    and call start(c, u) to move the bytes (pdu_proxy.py imports this)."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", lport))
    ls.listen(64)
    while True:
        c, _ = ls.accept()
        try:
            u = socket.create_connection((host, port))
        except OSError:
            c.close()
            continue
        start(c, u)

def start_pumps(c, u):
    for a, b in ((c, u), (u, c)):
        threading.Thread(target=pump, args=(a, b), daemon=True).start()

if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), start_pumps)
