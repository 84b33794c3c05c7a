#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Header and data digests (CRC32C).
#  - qemu-io (QEMU's libiscsi driver, header-digest=crc32c) writes and reads a
#    pattern; libiscsi 1.19 negotiates only header digests, so
#  - a raw python3 initiator (tests/integration/lib.sh) negotiates
#    HeaderDigest=CRC32C and DataDigest=CRC32C, checks the target answered
#    CRC32C for both, writes with digests, reads back verifying the target's
#    header and data digests on every PDU and the data itself;
#  - a command whose header digest is corrupted must not be executed (its data
#    never reaches the LUN), and one with a corrupted data digest must not
#    write its payload; the daemon keeps serving.
source "$(dirname "$0")/lib.sh"
it_init digests
need_cmd qemu-io python3 iscsi-inq

P=$(free_port)
kura_start --listen 127.0.0.1:$P
H=127.0.0.1:$P
URL=$(kura_url $H 0)
JS="json:{\"driver\":\"raw\",\"file\":{\"driver\":\"iscsi\",\"transport\":\"tcp\",\"portal\":\"$H\",\"target\":\"$KURA_IQN\",\"lun\":0,\"header-digest\":\"crc32c\"}}"
check "qemu-io with header digest CRC32C: write + verify 1 MiB" qio "$JS" "write -P 0xd1 0 1M" "read -P 0xd1 0 1M"
check "libiscsi URL ?header_digest=crc32c logs in" bash -c "timeout 20 iscsi-inq '$URL?header_digest=crc32c' >/dev/null 2>&1"

py_iscsi 127.0.0.1 "$P" "
IQN = '$KURA_IQN'
def sess():
    c = Conn()
    st, det, keys, tsih = login(c, 'iqn.2026-11.org.kura:it-digest', IQN,
        [('HeaderDigest', 'CRC32C'), ('DataDigest', 'CRC32C'), ('ImmediateData', 'Yes'),
         ('MaxRecvDataSegmentLength', '65536')])
    assert st == 0, 'login failed %d/%d' % (st, det)
    return c, keys
def cmd(c, *a, **k):
    for _ in range(3):          # absorb unit attentions after login
        st, d, sense = scsi_cmd(c, *a, **k)
        if not (st == 2 and len(sense) > 4 and sense[4] & 0x0F == 6):
            return st, d, sense
    return st, d, sense
c, keys = sess()
print('negotiated HeaderDigest=%s DataDigest=%s' % (keys.get('HeaderDigest'), keys.get('DataDigest')))
assert keys.get('HeaderDigest') == 'CRC32C' and keys.get('DataDigest') == 'CRC32C', 'target did not accept CRC32C digests'
lba = 4096
buf = bytes((i * 13 + 5) & 255 for i in range(8192))
st, d, s = cmd(c, bytes([0x2a, 0, 0, 0, lba >> 8, lba & 255, 0, 0, 16, 0]), write_data=buf)
assert st == 0, 'WRITE(10) with digests: status %d' % st
st, d, s = cmd(c, bytes([0x28, 0, 0, 0, lba >> 8, lba & 255, 0, 0, 16, 0]), read_len=8192)
assert st == 0 and d == buf, 'READ(10) with digests: status %d, data match %s' % (st, d == buf)
print('ok: write + read 8 KiB with header and data digests, every digest verified')

# corrupted header digest on a WRITE: must not execute
bad = bytes([0xEE]) * 4096
h = bytearray(bhs(0x01, 0x80 | 0x20 | 1, len(bad), itt=c.itt))
h[20:24] = struct.pack('>I', len(bad)); h[24:28] = struct.pack('>I', c.cmdsn); h[28:32] = struct.pack('>I', c.statsn)
h[32:42] = bytes([0x2a, 0, 0, 0, lba >> 8, lba & 255, 0, 0, 8, 0])
c.s.sendall(bytes(h) + struct.pack('<I', crc32c(bytes(h)) ^ 1) + bad + struct.pack('<I', crc32c(bad)))
time.sleep(0.5)
c.s.close()
# corrupted data digest on a WRITE (new session): payload must not be written
c, _ = sess()
cmd(c, bytes([0, 0, 0, 0, 0, 0]))   # TEST UNIT READY: eat unit attentions
h = bytearray(bhs(0x01, 0x80 | 0x20 | 1, len(bad), itt=c.itt))
h[20:24] = struct.pack('>I', len(bad)); h[24:28] = struct.pack('>I', c.cmdsn); h[28:32] = struct.pack('>I', c.statsn)
h[32:42] = bytes([0x2a, 0, 0, 0, (lba + 8) >> 8, (lba + 8) & 255, 0, 0, 8, 0])
c.s.sendall(bytes(h) + struct.pack('<I', crc32c(bytes(h))) + bad + struct.pack('<I', crc32c(bad) ^ 1))
time.sleep(0.5)
c.s.close()
c, _ = sess()
st, d, s = cmd(c, bytes([0x28, 0, 0, 0, lba >> 8, lba & 255, 0, 0, 16, 0]), read_len=8192)
assert st == 0, 'READ after corrupted PDUs: status %d' % st
assert d == buf, 'data changed by a PDU with a bad digest (%d bytes differ)' % sum(a != b for a, b in zip(d, buf))
print('ok: PDUs with a bad header digest / bad data digest did not write')
" >"$IT_DIR/py.out" 2>&1
prc=$?
cat "$IT_DIR/py.out"
check "raw initiator: CRC32C header+data digests, corrupted digests rejected" test $prc -eq 0
check "qemu-io still works after digest errors" qio "$URL" "read -P 0xd1 0 1M"
check "daemon alive" kill -0 "$KURA_PID"
kura_stop 10
it_finish
