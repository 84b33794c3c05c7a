#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# An iSCSI-aware TCP forwarder for the cluster-lock tests (I8): forwards
# LISTEN_PORT -> HOST:PORT on 127.0.0.1 PDU by PDU, notes every COMPARE AND
# WRITE (SCSI Command, CDB opcode 0x89) with its LBA in LOG ("caw LBA"), and
# drops the SCSI Response of a CAW when the ARM file says so:
#   ARM contains "N"            drop the next N CAW responses
#   ARM contains "N a,b,c"      ... of CAWs whose LBA is none of a, b, c
# (decremented as they are dropped; "drop ITT LBA" lines in LOG). The
# initiator then sees its command time out with the write done on the
# target: a lost completion. Header/data digests are followed from the
# login answer. Not for: anything but tests.
import socket, struct, sys, threading
from tcp_proxy import serve

lock = threading.Lock()

def log(msg):
    with lock:
        with open(LOG, "a") as f:
            f.write(msg + "\n")

def want_drop(lba):
    with lock:
        try:
            words = open(ARM).read().split()
        except OSError:
            return False
        if not words or int(words[0]) <= 0:
            return False
        excl = {int(x) for x in words[1].split(",")} if len(words) > 1 else set()
        if lba in excl:
            return False
        words[0] = str(int(words[0]) - 1)
        open(ARM, "w").write(" ".join(words) + "\n")
        return True

def recv_exact(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b

def read_pdu(s, st):
    bhs = recv_exact(s, 48)
    ahs = bhs[4] * 4
    dlen = int.from_bytes(bhs[5:8], "big")
    n = ahs + (4 if st["hd"] else 0) + ((dlen + 3) & ~3) + (4 if st["dd"] and dlen else 0)
    return bhs, bhs + recv_exact(s, n), dlen, ahs

def to_target(c, u, st):
    while True:
        bhs, pdu, dlen, ahs = read_pdu(c, st)
        if bhs[0] & 0x3f == 0x01 and bhs[32] == 0x89:
            lba = int.from_bytes(bhs[34:42], "big")
            st["caw"][bhs[16:20]] = lba
            log("caw %d" % lba)
        u.sendall(pdu)

def from_target(u, c, st):
    while True:
        bhs, pdu, dlen, ahs = read_pdu(u, st)
        op = bhs[0] & 0x3f
        if op == 0x23:                                    # login response
            text = pdu[48 + ahs:48 + ahs + dlen].decode("ascii", "replace")
            st["next_hd"] |= "HeaderDigest=CRC32C" in text
            st["next_dd"] |= "DataDigest=CRC32C" in text
            if bhs[1] & 0x80 and bhs[1] & 0x03 == 3:      # T=1, NSG=full feature
                st["hd"], st["dd"] = st["next_hd"], st["next_dd"]
        if op == 0x21 and bhs[16:20] in st["caw"]:
            lba = st["caw"].pop(bhs[16:20])
            if want_drop(lba):
                log("drop %s %d" % (bhs[16:20].hex(), lba))
                continue
        c.sendall(pdu)

def run(f, a, b, st):
    try:
        f(a, b, st)
    except (EOFError, OSError):
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

def start(c, u):
    st = {"hd": False, "dd": False, "next_hd": False, "next_dd": False, "caw": {}}
    threading.Thread(target=run, args=(to_target, c, u, st), daemon=True).start()
    threading.Thread(target=run, args=(from_target, u, c, st), daemon=True).start()

def main():
    global ARM, LOG
    lport, host, port, ARM, LOG = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    serve(lport, host, port, start)

main()
