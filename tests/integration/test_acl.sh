#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ACL: a target that allows only initiator X. X sees the target in discovery
# and logs in; Y does not see it and cannot log in. An open target next to it
# stays visible to both (so "Y sees nothing" is not just a broken discovery).
source "$(dirname "$0")/lib.sh"
it_init acl
need_cmd qemu-io iscsi-ls iscsi-inq

P=$(free_port)
TA=iqn.2026-11.org.kura:acl-private
TO=iqn.2026-11.org.kura:acl-open
X=iqn.2026-11.org.example:host-x
Y=iqn.2026-11.org.example:host-y
cat >"$IT_DIR/kura.conf" <<CONF
[portal main]
address = 127.0.0.1:$P

[target $TA]
allow = $X

[lun 0]
backend = memory
size = 64M

[target $TO]

[lun 0]
backend = memory
size = 64M
CONF
KURA_WAIT="127.0.0.1:$P" kura_start -c "$IT_DIR/kura.conf"
H=127.0.0.1:$P

timeout 20 iscsi-ls -i "$X" "iscsi://$H" >"$IT_DIR/ls-x.txt" 2>&1
timeout 20 iscsi-ls -i "$Y" "iscsi://$H" >"$IT_DIR/ls-y.txt" 2>&1
cat "$IT_DIR/ls-x.txt" "$IT_DIR/ls-y.txt"
check "X sees the private target in discovery" grep -q "Target:$TA" "$IT_DIR/ls-x.txt"
check "X sees the open target" grep -q "Target:$TO" "$IT_DIR/ls-x.txt"
check "Y does not see the private target" bash -c "! grep -q 'Target:$TA' '$IT_DIR/ls-y.txt'"
check "Y sees the open target" grep -q "Target:$TO" "$IT_DIR/ls-y.txt"
check "X logs in to the private target" bash -c "timeout 20 iscsi-inq -i '$X' 'iscsi://$H/$TA/0' >/dev/null 2>&1"
check "Y cannot log in to the private target" bash -c "! timeout 20 iscsi-inq -i '$Y' 'iscsi://$H/$TA/0' >/dev/null 2>&1"
check "Y logs in to the open target" bash -c "timeout 20 iscsi-inq -i '$Y' 'iscsi://$H/$TO/0' >/dev/null 2>&1"
# data path as X (qemu's iscsi driver takes the initiator name as an option)
check "X writes and reads the private LUN" qio "$(kura_json "$H" 0 "$TA" "$X")" \
  "write -P 0x78 0 64k" "read -P 0x78 0 64k"
check "daemon alive" kill -0 "$KURA_PID"
kura_stop 10
it_finish
