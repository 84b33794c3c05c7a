#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Hostile input: raw malformed PDUs and hostile login keys (python3, no pip
# packages), then out-of-range / invalid CDBs through libiscsi
# (client_cdb.c: READ past the end -> ILLEGAL REQUEST 21/00 etc.).
# Throughout, an unrelated qemu-io session stays logged in; it must keep
# reading its data after every attack, and the daemon must stay up.
source "$(dirname "$0")/lib.sh"
it_init bad_input
need_cmd qemu-io python3
CDB=$(need_client cdb)

P=$(free_port)
kura_start --listen 127.0.0.1:$P
H=127.0.0.1:$P
URL=$(kura_url $H 0)
check "victim data written" qio "$URL" "write -P 0xb7 0 256k"

# the victim: one long-lived qemu-io session fed through a FIFO
mkfifo "$IT_DIR/victim"
qemu-io -f raw "$URL" <"$IT_DIR/victim" >"$IT_DIR/victim.log" 2>&1 &
VPID=$!; IT_PIDS+=($VPID)
exec 7>"$IT_DIR/victim"
VN=0
victim_reads() {   # issue one verified read in the held session, wait for its answer
  VN=$((VN + 1))
  echo "read -P 0xb7 $((VN % 4 * 65536)) 64k" >&7
  local i
  for i in $(seq 1 100); do
    [ "$(grep -c 'read 65536/65536' "$IT_DIR/victim.log")" -ge "$VN" ] && \
      ! grep -q "Pattern verification failed\|error" "$IT_DIR/victim.log" && return 0
    sleep 0.1
  done
  return 1
}
check "victim session reads before the attacks" victim_reads

py_iscsi 127.0.0.1 "$P" "
IQN = '$KURA_IQN'
results = []
def case(name, fn):
    try:
        r = fn()
        results.append((name, r))
    except (EOFError, ConnectionError, socket.timeout, OSError) as e:
        results.append((name, 'closed (%s)' % type(e).__name__))
    print('%-55s -> %s' % (name, results[-1][1]), flush=True)
def drain(s, t=2.0):
    s.settimeout(t)
    try:
        b = s.recv(65536)
        return 'answered %d bytes (opcode 0x%02x)' % (len(b), b[0] & 0x3f) if b else 'closed'
    except socket.timeout:
        return 'no answer in %.0fs' % t
def raw(data, t=2.0):
    s = connect(); s.sendall(data); r = drain(s, t); s.close(); return r
rnd = __import__('random').Random(1234)
case('48 random bytes', lambda: raw(bytes(rnd.getrandbits(8) for _ in range(48))))
case('half a BHS then close', lambda: raw(bytes(20), 0.5))
case('login PDU with DataSegmentLength 16 MiB-1, no data', lambda: raw(bhs(0x03, 0x87, 0xFFFFFF, immediate=True), 2))
case('login PDU with TotalAHSLength 255', lambda: raw(bhs(0x03, 0x87, 0, immediate=True, ahs=255) + bytes(1020), 2))
case('SCSI READ before login', lambda: raw(bhs(0x01, 0xc1, 0) , 2))
case('unknown opcode 0x1f before login', lambda: raw(bhs(0x1f, 0x80, 0), 2))
case('1000 NUL-only login PDUs', lambda: raw(b''.join(bhs(0x03, 0x87, 4, immediate=True) + bytes(4) for _ in range(1000)), 2))
def login_case(keys, sec=None, target=IQN, init='iqn.2026-11.org.kura:it-bad'):
    c = Conn()
    st, det, got, tsih = login(c, init, target, keys, sec_keys=sec)
    c.s.close()
    return 'status %d/%d' % (st, det)
case('login: target that does not exist', lambda: login_case([], target='iqn.2026-11.org.kura:nope'))
def raw_login(payload, flags=0x81):
    s = connect()
    h = bytearray(bhs(0x03, flags, len(payload), itt=1, immediate=True))
    h[8:14] = b'\x80\0\0\0\0\x02'; h[24:28] = struct.pack('>I', 1)
    s.sendall(bytes(h) + pad4(payload))
    r = drain(s, 2); s.close(); return r
case('login: key without =', lambda: raw_login(b'InitiatorName=iqn.x:y\0NoEqualsSign\0AuthMethod=None\0'))
case('login: 8 KiB key value', lambda: raw_login(b'InitiatorName=iqn.x:' + b'y' * 8192 + b'\0AuthMethod=None\0'))
case('login: 4 KiB key name', lambda: raw_login(b'I' * 4096 + b'=x\0'))
case('login: non-UTF-8 bytes', lambda: raw_login(b'InitiatorName=\xff\xfe\x80\0AuthMethod=\xc3\0'))
case('login: missing terminating NUL', lambda: raw_login(b'InitiatorName=iqn.x:y\0AuthMethod=None'))
case('login: duplicate keys', lambda: raw_login(b'InitiatorName=iqn.x:y\0InitiatorName=iqn.x:z\0AuthMethod=None\0AuthMethod=None\0'))
case('login: 2000 unknown keys', lambda: raw_login(b''.join(b'X-kura-%d=%d\0' % (i, i) for i in range(2000))))
case('login: CHAP_A with 500 algorithms', lambda: raw_login(b'InitiatorName=iqn.x:y\0AuthMethod=CHAP\0CHAP_A=' + b','.join(b'%d' % i for i in range(500)) + b'\0'))
case('login: MaxRecvDataSegmentLength=0', lambda: login_case([('MaxRecvDataSegmentLength', '0')]))
case('login: MaxRecvDataSegmentLength=99999999999999', lambda: login_case([('MaxRecvDataSegmentLength', '99999999999999')]))
case('login: MaxBurstLength=abc', lambda: login_case([('MaxBurstLength', 'abc')]))
case('login: HeaderDigest=MD5', lambda: login_case([('HeaderDigest', 'MD5')]))
case('login: missing InitiatorName', lambda: raw_login(b'SessionType=Normal\0TargetName=' + IQN.encode() + b'\0AuthMethod=None\0'))
case('login: version max 0xff min 0xff', lambda: (lambda s: (s.sendall(bytes(bytearray(bhs(0x03, 0x87, 0, immediate=True))[:2]) + b'\xff\xff' + bytes(44)), drain(s))[1])(connect()))
def full_feature(fn):
    c = Conn()
    st, det, got, tsih = login(c, 'iqn.2026-11.org.kura:it-bad2', IQN, [])
    assert st == 0, 'login failed'
    r = fn(c); c.s.close(); return r
case('FFP: unknown opcode 0x1d', lambda: full_feature(lambda c: (c.send(bhs(0x1d, 0x80, 0, itt=7)), drain(c.s))[1]))
case('FFP: SCSI cmd with DataSegmentLength > MRDSL', lambda: full_feature(lambda c: (c.s.sendall(bhs(0x01, 0xa1, 1 << 20, itt=8) + bytes(1 << 20)), drain(c.s))[1]))
case('FFP: Data-Out for an unknown task', lambda: full_feature(lambda c: (c.s.sendall(bhs(0x05, 0x80, 512, itt=0x1234) + bytes(512)), drain(c.s))[1]))
case('FFP: CmdSN far outside the window', lambda: full_feature(lambda c: (lambda h: (c.s.sendall(bytes(h)), drain(c.s))[1])(bytearray(bhs(0x01, 0xc1, 0, itt=9)[:24]) + struct.pack('>I', 0x7fffffff) + bytes(20))))
case('FFP: TMF ABORT TASK for a task that does not exist', lambda: full_feature(lambda c: (c.s.sendall(bytes(bytearray(bhs(0x02, 0x81, 0, itt=10, immediate=True)))), drain(c.s))[1]))
case('FFP: logout then keep sending', lambda: full_feature(lambda c: (c.s.sendall(bhs(0x06, 0x80, 0, itt=11, immediate=True) + bhs(0x01, 0xc1, 0, itt=12)), drain(c.s))[1]))
case('FFP: 200 commands then abrupt close', lambda: full_feature(lambda c: (c.s.sendall(b''.join(bytes(bytearray(bhs(0x01, 0xc1, 0, itt=100 + i)[:20]) + struct.pack('>III', 512, c.cmdsn + i, c.statsn) + bytes([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]) + bytes(6)) for i in range(200))), 'sent')[1]))
# well-defined answers that must hold
d = dict(results)
ok = True
for name, want in [('login: target that does not exist', 'status 2/'), ('login: missing InitiatorName', None)]:
    got = d.get(name, '')
    if want and not got.startswith(want):
        print('NOT OK: %s answered %r, want %r...' % (name, got, want)); ok = False
sys.exit(0 if ok else 1)
" >"$IT_DIR/py.out" 2>&1
prc=$?
cat "$IT_DIR/py.out"
check "raw PDU / hostile key cases ran; login to a missing target gets status class 2" test $prc -eq 0
check "daemon alive after raw PDU attacks" kill -0 "$KURA_PID"
check "victim session still reads after raw PDU attacks" victim_reads

"$CDB" "$URL" >"$IT_DIR/cdb.out" 2>&1; crc=$?
cat "$IT_DIR/cdb.out"
check "out-of-range and invalid CDBs answered with the right sense" test $crc -eq 0
check "victim session still reads after CDB attacks" victim_reads
check "fresh qemu-io session works" qio "$URL" "read -P 0xb7 0 256k"
exec 7>&-
kura_stop 10
it_finish
