#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SCSI Command PDUs whose R / W bits or Expected Data Transfer Length
# disagree with the CDB (issue 11 item 5; RFC 7143 11.3.1 / 11.4.5), sent as
# raw PDUs (python3): for each combination the status, the sense, the
# residual flag and count, and -- read back afterwards -- that nothing was
# written where the answer says so. Data-Out the CDB asks for without the W
# bit gets CHECK CONDITION, never GOOD for data that never arrived; every
# other mismatch gets RFC 7143 residuals (docs/conformance.md, "R / W bits
# and Expected Data Transfer Length").
source "$(dirname "$0")/lib.sh"
it_init pdu_direction
need_cmd python3

P=$(free_port)
kura_start --listen 127.0.0.1:$P

py_iscsi 127.0.0.1 "$P" "
IQN = '$KURA_IQN'
c = Conn()
st, det, got, tsih = login(c, 'iqn.2026-11.org.kura:it-direction', IQN,
                           [('ImmediateData', 'Yes'), ('InitialR2T', 'No'),
                            ('FirstBurstLength', '65536')])
assert st == 0, 'login failed %d/%d' % (st, det)
fails = []
def expect(name, ok, detail):
    print('%-62s %s  (%s)' % (name, 'ok' if ok else 'NOT OK', detail), flush=True)
    if not ok: fails.append(name)

def cmd(cdb, flags, edtl, data=b''):
    '''One command with the given R/W flag bits (0x40 R, 0x20 W) and EDTL;
    data goes as immediate data (all of it, F set). Answers R2Ts with the
    rest of data. Returns (status, sense (key, asc, ascq) or None,
    residual flags (0x04 overflow, 0x02 underflow), residual count, data-in).'''
    cdb = cdb + bytes(16 - len(cdb))
    imm = data[:65536]
    h = bytearray(bhs(0x01, 0x80 | flags | 1, len(imm), itt=c.itt))
    h[20:24] = struct.pack('>I', edtl)
    h[24:28] = struct.pack('>I', c.cmdsn); h[28:32] = struct.pack('>I', c.statsn)
    h[32:48] = cdb
    c.cmdsn += 1; c.itt += 1
    c.send(bytes(h), imm)
    din = b''
    while True:
        r, d = c.recv()
        op = r[0] & 0x3F
        if op == 0x25:
            din += d
            if r[1] & 0x01:
                c.statsn = struct.unpack('>I', r[24:28])[0] + 1
                return r[3], None, r[1] & 0x06, struct.unpack('>I', r[44:48])[0], din
        elif op == 0x21:
            c.statsn = struct.unpack('>I', r[24:28])[0] + 1
            sense = sense_kcq(d) if len(d) > 2 else None
            return r[3], sense, r[1] & 0x06, struct.unpack('>I', r[44:48])[0], din
        elif op == 0x31:
            off, want = struct.unpack('>II', r[40:48])
            chunk = data[off:off + want]
            dh = bytearray(bhs(0x05, 0x80, len(chunk), itt=struct.unpack('>I', r[16:20])[0]))
            dh[20:24] = r[20:24]; dh[28:32] = struct.pack('>I', c.statsn)
            dh[40:44] = struct.pack('>I', off)
            c.send(bytes(dh), chunk)
        else:
            raise ValueError('unexpected opcode 0x%02x' % op)

R, W = 0x40, 0x20
def rd10(lba, n): return bytes([0x28, 0, *struct.pack('>I', lba), 0, *struct.pack('>H', n), 0])
def wr10(lba, n): return bytes([0x2a, 0, *struct.pack('>I', lba), 0, *struct.pack('>H', n), 0])
# unit attentions of a new nexus first
for _ in range(4):
    s, sense, *_ = cmd(bytes(6), 0, 0)
    if s == 0: break
s, sense, rf, rc, cap = cmd(bytes([0x25]) + bytes(9), R, 8)
assert s == 0 and len(cap) == 8, 'READ CAPACITY(10) failed'
BS = struct.unpack('>I', cap[4:8])[0]
print('block size', BS)
A = b'\\xaa' * (4 * BS)
s, *_ = cmd(wr10(0, 4), W, len(A), A)
assert s == 0, 'baseline write failed'
def block(lba):
    s, sense, rf, rc, d = cmd(rd10(lba, 1), R, BS)
    assert s == 0 and len(d) == BS
    return d
def untouched(lbas):
    return all(block(l) == b'\\xaa' * BS for l in lbas)

CC, GOOD, OVER, UNDER = 2, 0, 0x04, 0x02
IR = (5, 0x0e, 0x03)      # ILLEGAL REQUEST, INVALID FIELD IN COMMAND INFORMATION UNIT
B = b'\\xbb' * (2 * BS)

# WRITE(10) of 1 block without the W bit
for name, flags, edtl in (('WRITE without W, EDTL 0', 0, 0),
                          ('WRITE without W, EDTL 1 block (no bit)', 0, BS),
                          ('WRITE with R instead of W, EDTL 1 block', R, BS)):
    s, sense, rf, rc, d = cmd(wr10(0, 1), flags, edtl)
    expect(name, s == CC and sense == IR and rf == OVER and rc == BS and not d and untouched([0]),
           'status %d sense %s residual 0x%x/%d' % (s, sense, rf, rc))
# WRITE with W but EDTL 0 / smaller than the CDB's transfer length: the
# command runs on the EDTL's worth of whole blocks, GOOD with the overflow
# (what iscsi-test-cu's iSCSIResiduals require)
s, sense, rf, rc, d = cmd(wr10(0, 1), W, 0)
expect('WRITE with W, EDTL 0', s == GOOD and rf == OVER and rc == BS and untouched([0]),
       'status %d sense %s residual 0x%x/%d' % (s, sense, rf, rc))
s, sense, rf, rc, d = cmd(wr10(0, 1), W, 200, B[:200])
expect('WRITE 1 block with W, EDTL 200 (part of a block)',
       s == GOOD and rf == OVER and rc == BS - 200 and untouched([0]),
       'status %d sense %s residual 0x%x/%d' % (s, sense, rf, rc))
s, sense, rf, rc, d = cmd(wr10(1, 2), W, BS, B[:BS])
expect('WRITE 2 blocks with W, EDTL 1 block',
       s == GOOD and rf == OVER and rc == BS and block(1) == B[:BS] and untouched([2]),
       'status %d sense %s residual 0x%x/%d' % (s, sense, rf, rc))
# EDTL larger than the CDB's: underflow, GOOD, only the CDB's blocks written
s, sense, rf, rc, d = cmd(wr10(3, 1), W, 2 * BS, B)
expect('WRITE 1 block with W, EDTL 2 blocks (underflow)',
       s == GOOD and rf == UNDER and rc == BS and block(3) == B[:BS] and untouched([0, 2]),
       'status %d sense %s residual 0x%x/%d' % (s, sense, rf, rc))
# READ(10) of 1 block without R: no Data-In is sent, GOOD with the overflow
# (nothing changes on a read; iscsi-test-cu's Read10Invalid requires GOOD for
# a READ sent with W)
for name, flags, edtl, data in (('READ without R, EDTL 0', 0, 0, b''),
                                ('READ without R, EDTL 1 block (no bit)', 0, BS, b''),
                                ('READ with W instead of R, EDTL 1 block', W, BS, B[:BS])):
    s, sense, rf, rc, d = cmd(rd10(2, 1), flags, edtl, data)
    expect(name, s == GOOD and rf == OVER and rc == BS and not d and untouched([2]),
           'status %d sense %s residual 0x%x/%d data %d' % (s, sense, rf, rc, len(d)))
# READ with R and a wrong EDTL: RFC 7143 residuals, GOOD, exactly EDTL bytes sent
s, sense, rf, rc, d = cmd(rd10(0, 2), R, BS)
expect('READ 2 blocks with R, EDTL 1 block (overflow)', s == GOOD and rf == OVER and rc == BS and len(d) == BS,
       'status %d residual 0x%x/%d data %d' % (s, rf, rc, len(d)))
s, sense, rf, rc, d = cmd(rd10(0, 1), R, 2 * BS)
expect('READ 1 block with R, EDTL 2 blocks (underflow)', s == GOOD and rf == UNDER and rc == BS and len(d) == BS,
       'status %d residual 0x%x/%d data %d' % (s, rf, rc, len(d)))
s, sense, rf, rc, d = cmd(rd10(0, 1), R, 0)
expect('READ 1 block with R, EDTL 0', s == GOOD and rf == OVER and rc == BS and not d,
       'status %d residual 0x%x/%d data %d' % (s, rf, rc, len(d)))
# the connection still works: a normal write and read back
C = b'\\xcc' * BS
s, *_ = cmd(wr10(5, 1), W, BS, C)
expect('a well-formed WRITE afterwards', s == GOOD and block(5) == C, 'status %d' % s)
sys.exit(1 if fails else 0)
" >"$IT_DIR/py.log" 2>&1
rc=$?
cat "$IT_DIR/py.log"
check "every R/W/EDTL combination answered as RFC 7143, nothing written without W" test $rc -eq 0
check "daemon still running" kill -0 "$KURA_PID"
check "daemon stops cleanly" kura_stop
it_finish
