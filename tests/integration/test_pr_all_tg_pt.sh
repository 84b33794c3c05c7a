#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# ALL_TG_PT over two portals (SPC-4 5.14.7): a REGISTER with ALL_TG_PT=1
# through target port 1 registers the initiator port with every target port,
# so the same initiator port (name + ISID) may RESERVE through target port 2
# without registering there; a registration without ALL_TG_PT does not carry
# over, and an unregistered initiator is refused. Also shows that the same
# ISID through two portals makes two sessions (SSID = ISID + TPGT), not a
# reinstatement. Raw iSCSI from python3 (lib.sh py_iscsi).
source "$(dirname "$0")/lib.sh"
it_init pr_all_tg_pt
need_cmd python3
P1=$(free_port 127.0.0.1); P2=$(free_port 127.0.0.1)
printf '[global]\ndata_dir = %s\n[target %s]\n[lun 0]\nbackend = memory\nsize = 16M\n' \
  "$IT_DIR/data" "$KURA_IQN" >"$IT_DIR/kura.conf"
kura_start -c "$IT_DIR/kura.conf" --listen "127.0.0.1:$P1" --listen "127.0.0.1:$P2"

out=$(py_iscsi 127.0.0.1 "$P1" "
P1, P2 = $P1, $P2
def conn(port, name, isid):
    global PORT
    PORT = port
    c = Conn()
    st = login(c, name, '$KURA_IQN', isid=isid)
    assert st[0] == 0, ('login', name, port, st)
    return c
def prout(c, sa, key, sakey, flags=0, rtype=0):
    par = struct.pack('>QQ4sBB2s', key, sakey, b'', flags, 0, b'')
    cdb = bytes([0x5f, sa, rtype, 0, 0, 0, 0, 0, len(par), 0])
    return scsi_cmd(c, cdb, write_data=par)[0]
def full_status(c):
    st, d, _ = scsi_cmd(c, bytes([0x5e, 3, 0, 0, 0, 0, 0, 0x10, 0, 0]), read_len=4096)
    assert st == 0, st
    n, off, regs = struct.unpack('>I', d[4:8])[0], 8, []
    while off < 8 + n:
        key = struct.unpack('>Q', d[off:off + 8])[0]
        rtp = struct.unpack('>H', d[off + 18:off + 20])[0]
        regs.append((key, bool(d[off + 12] & 2), rtp))
        off += 24 + struct.unpack('>I', d[off + 20:off + 24])[0]
    return regs
X = b'\x80\x00\x00\x00\x0a\x01'
xa = conn(P1, 'iqn.2026-11.org.kura:host-x', X)
xb = conn(P2, 'iqn.2026-11.org.kura:host-x', X)     # same ISID, other portal
print('both-sessions-alive', scsi_cmd(xa, bytes([0, 0, 0, 0, 0, 0]))[0] == 0)
print('register-all-tg-pt', prout(xa, 0, 0, 0xaa01, flags=4))
print('full-status', full_status(xb))
print('reserve-via-port2', prout(xb, 1, 0xaa01, 0, rtype=1))
print('release-via-port2', prout(xb, 2, 0xaa01, 0, rtype=1))
Z = b'\x80\x00\x00\x00\x0a\x02'
za = conn(P1, 'iqn.2026-11.org.kura:host-z', Z)
zb = conn(P2, 'iqn.2026-11.org.kura:host-z', Z)
print('register-port1-only', prout(za, 0, 0, 0xbb02))
print('z-reserve-via-port2', prout(zb, 1, 0xbb02, 0, rtype=1))
y = conn(P2, 'iqn.2026-11.org.kura:host-y', b'\x80\x00\x00\x00\x0a\x03')
print('unregistered-reserve', prout(y, 1, 0xcc03, 0, rtype=1))
")
log "$out"
check "same ISID through two portals: two live sessions" grep -qx 'both-sessions-alive True' <<<"$out"
check "REGISTER with ALL_TG_PT: GOOD" grep -qx 'register-all-tg-pt 0' <<<"$out"
check "READ FULL STATUS: one registration, ALL_TG_PT set" \
  grep -qx "full-status \[(43521, True, [0-9]*)\]" <<<"$out"
check "RESERVE through port 2 by the same initiator port: GOOD" grep -qx 'reserve-via-port2 0' <<<"$out"
check "RELEASE through port 2: GOOD" grep -qx 'release-via-port2 0' <<<"$out"
check "REGISTER without ALL_TG_PT: GOOD" grep -qx 'register-port1-only 0' <<<"$out"
check "that registration does not cover port 2: RESERVATION CONFLICT" grep -qx 'z-reserve-via-port2 24' <<<"$out"
check "unregistered initiator: RESERVATION CONFLICT" grep -qx 'unregistered-reserve 24' <<<"$out"
it_finish
