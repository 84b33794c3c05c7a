#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Write-and-verify loop over an NBD Unix socket (kura-initiatord's NBD front
# end), one request at a time, for tests/ceph/test_gateway_failover.sh.
#
#   nbd_verify.py SOCKET STOPFILE OPSFILE BASE SPAN
#
# Round R writes 64 KiB block B of [BASE, BASE + SPAN) with a pattern naming
# (R, B), reads it back and compares, until STOPFILE exists; then reads every
# block written and checks that it holds the last pattern written there.
# OPSFILE gets one line per request: "T_SUBMIT_MS T_DONE_MS write|read ok|ERR".
# The summary line on stdout: "ops=N errors=E mismatches=M verified=V".
# Exit 0 only when there was no error and no mismatch.
import os
import socket
import struct
import sys
import time

BS = 65536
REQ, REP = 0x25609513, 0x67446698
sock_path, stop, ops_path = sys.argv[1:4]
base, span = int(sys.argv[4]), int(sys.argv[5])
s = socket.socket(socket.AF_UNIX)
s.connect(sock_path)


def rx(n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise IOError("the NBD server closed the connection")
        b += d
    return b


assert rx(8) == b"NBDMAGIC" and rx(8) == b"IHAVEOPT", "not an NBD server"
hflags = struct.unpack(">H", rx(2))[0]
s.sendall(struct.pack(">I", 3 if hflags & 2 else 1))  # fixed newstyle, no zeroes
s.sendall(b"IHAVEOPT" + struct.pack(">II", 1, 0))  # EXPORT_NAME "" (the LU)
size = struct.unpack(">QH", rx(10))[0]
if not hflags & 2:
    rx(124)
nblk = min(span, size - base) // BS
ops = open(ops_path, "w", buffering=1)
handle = 0
n_ops = errors = mismatches = 0


def request(kind, off, data=b""):
    """One NBD request; the data read (or b"") and whether it succeeded."""
    global handle, n_ops, errors
    handle += 1
    t0 = time.time()
    typ = 1 if kind == "write" else 0
    ln = len(data) if data else BS
    s.sendall(struct.pack(">IHHQQI", REQ, 0, typ, handle, off, ln) + data)
    magic, err, h = struct.unpack(">IIQ", rx(16))
    assert magic == REP and h == handle, "bad NBD reply"
    got = rx(ln) if typ == 0 and err == 0 else b""
    n_ops += 1
    if err:
        errors += 1
    ops.write("%d %d %s %s\n" % (t0 * 1000, time.time() * 1000, kind, "ERR" if err else "ok"))
    return got, err == 0


def pattern(rnd, blk):
    return struct.pack("<QQ", rnd, blk) * (BS // 16)


last = {}
rnd = 0
while not os.path.exists(stop):
    rnd += 1
    for blk in range(0, nblk, 3):
        if os.path.exists(stop):
            break
        p = pattern(rnd, blk)
        _, ok = request("write", base + blk * BS, p)
        if ok:
            last[blk] = p
        got, ok = request("read", base + blk * BS)
        if ok and got != p:
            mismatches += 1
            print("MISMATCH round %d block %d" % (rnd, blk), flush=True)
verified = 0
for blk, p in sorted(last.items()):
    got, ok = request("read", base + blk * BS)
    if ok and got != p:
        mismatches += 1
        print("MISMATCH at the end: block %d" % blk, flush=True)
    verified += ok and got == p
print("ops=%d errors=%d mismatches=%d verified=%d" % (n_ops, errors, mismatches, verified))
sys.exit(0 if errors == 0 and mismatches == 0 else 1)
