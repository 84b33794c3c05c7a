#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Two kura-targetd gateways (gateway_id = 1 and 2, docs/ceph.md "Gateway
# layout") export one file as LUN 0: REPORT TARGET PORT GROUPS is identical
# from both (two groups, each with its own relative ports), VPD 0x83's
# logical-unit designators (NAA, T10) are identical, and the target port
# designators differ (relative port 1 / 17, port group 1 / 2). The Ceph
# version of this check (an RBD image, identity from the image) is
# tests/ceph/test_gateways_pr.sh (scenario ids).
source "$(dirname "$0")/lib.sh"
it_init gateway_ids
P1=$(free_port 127.0.0.1); P2=$(free_port 127.0.0.2)
truncate -s 16M "$IT_DIR/lun0.img"
gw_conf() { # gw_conf ID ADDR:PORT
  cat <<CONF
[global]
gateway_id = $1
nop_interval_ms = 600000
nop_timeout_ms = 900000
[portal a]
address = $2
[target $KURA_IQN]
[lun 0]
backend = file
path = $IT_DIR/lun0.img
CONF
}
gw_conf 1 "127.0.0.1:$P1" >"$IT_DIR/gw1.conf"
gw_conf 2 "127.0.0.2:$P2" >"$IT_DIR/gw2.conf"
KURA_WAIT="127.0.0.1:$P1" kura_start -c "$IT_DIR/gw1.conf"
mkdir -p "$IT_DIR/data2"
"$KURA_TARGETD" --foreground --data-dir "$IT_DIR/data2" -c "$IT_DIR/gw2.conf" >>"$IT_DIR/kura.log" 2>&1 &
IT_PIDS+=($!)
wait_port 127.0.0.2 "$P2" 30 || die "gateway 2 did not listen"

# prints: RTPG (hex), the LU designators (hex), the port designators (hex)
probe() {
  py_iscsi "$1" "$2" "
c = Conn()
st, _, _, _ = login(c, 'iqn.2026-11.org.kura:it-gw', '$KURA_IQN')
assert st == 0
st, r, _ = scsi_cmd(c, bytes([0xA3, 0x0A, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0]), read_len=1024)
st, v, _ = scsi_cmd(c, bytes([0x12, 1, 0x83, 0, 255, 0]), read_len=255)
lu, port, i = b'', b'', 4
while i + 4 <= len(v):
    n = 4 + v[i + 3]
    if (v[i + 1] >> 4) & 3 == 0: lu += v[i:i + n]
    elif (v[i + 1] >> 4) & 3 == 1: port += v[i:i + n]
    i += n
print(r.hex(), lu.hex(), port.hex())
"
}
A=$(probe 127.0.0.1 "$P1") || die "probe gateway 1: $A"
B=$(probe 127.0.0.2 "$P2") || die "probe gateway 2: $B"
log "gateway 1: $A"
log "gateway 2: $B"
read -r A_RTPG A_LU A_PORT <<<"$A"
read -r B_RTPG B_LU B_PORT <<<"$B"
check "RTPG identical from both gateways" test "$A_RTPG" = "$B_RTPG"
# 4-byte header, then per group 8 bytes + 4 per port: two groups of one port
check "RTPG lists two groups of one port each" test "${#A_RTPG}" = $(((4 + 12 + 12) * 2))
check "group 1 holds relative port 1" test "${A_RTPG:12:4}${A_RTPG:28:4}" = "00010001"
check "group 2 holds relative port 17" test "${A_RTPG:36:4}${A_RTPG:52:4}" = "00020011"
check "VPD 0x83 logical unit designators identical" test -n "$A_LU" -a "$A_LU" = "$B_LU"
check "VPD 0x83 target port designators differ" test "$A_PORT" != "$B_PORT"
check "gateway 2's relative port is 17" bash -c "echo '$B_PORT' | grep -q '^5194000400000011'"
check "gateway 2's port group is 2" bash -c "echo '$B_PORT' | grep -q '5195000400000002'"
it_finish
