#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CHAP: one-way and mutual (target authenticates to the initiator) on normal
# sessions, and discovery CHAP. Correct credentials log in and move data;
# a wrong secret, a wrong user, no credentials, and (mutual) a wrong expected
# target secret are all refused; the daemon keeps serving throughout.
source "$(dirname "$0")/lib.sh"
it_init chap
need_cmd qemu-io iscsi-ls iscsi-inq

P=$(free_port)
T1=iqn.2026-11.org.kura:chap-oneway
T2=iqn.2026-11.org.kura:chap-mutual
cat >"$IT_DIR/kura.conf" <<CONF
[global]
log_level = info

[portal main]
address = 127.0.0.1:$P

[discovery]
chap = discuser:discsecret1234

[target $T1]
chap = alice:alicesecret123

[lun 0]
backend = memory
size = 64M

[target $T2]
chap = bob:bobsecret12345
mutual_chap = kuratarget:targetsecret99

[lun 0]
backend = memory
size = 64M
CONF
chmod 600 "$IT_DIR/kura.conf"
KURA_WAIT="127.0.0.1:$P" kura_start -c "$IT_DIR/kura.conf"

H=127.0.0.1:$P
inq() { timeout 20 iscsi-inq "$@" >>"$IT_DIR/inq.log" 2>&1; }
# one-way
check "one-way: correct secret logs in and moves data" \
  qio "iscsi://alice%alicesecret123@$H/$T1/0" "write -P 0x61 0 64k" "read -P 0x61 0 64k"
check "one-way: wrong secret is refused" bash -c "! timeout 20 iscsi-inq 'iscsi://alice%alicesecret124@$H/$T1/0' >/dev/null 2>&1"
check "one-way: unknown user is refused" bash -c "! timeout 20 iscsi-inq 'iscsi://mallory%alicesecret123@$H/$T1/0' >/dev/null 2>&1"
check "one-way: no credentials is refused" bash -c "! timeout 20 iscsi-inq 'iscsi://$H/$T1/0' >/dev/null 2>&1"
check "one-way: another target's account is refused" bash -c "! timeout 20 iscsi-inq 'iscsi://bob%bobsecret12345@$H/$T1/0' >/dev/null 2>&1"
# mutual: the initiator also checks the target's answer
check "mutual: correct secrets both ways log in and move data" \
  env LIBISCSI_CHAP_TARGET_USERNAME=kuratarget LIBISCSI_CHAP_TARGET_PASSWORD=targetsecret99 \
  bash -c "source '$(dirname "$0")/lib.sh'; IT_DIR='$IT_DIR'; qio 'iscsi://bob%bobsecret12345@$H/$T2/0' 'write -P 0x62 0 64k' 'read -P 0x62 0 64k'"
check "mutual: target secret also accepted via URL arguments" \
  inq "iscsi://bob%bobsecret12345@$H/$T2/0?target_user=kuratarget&target_password=targetsecret99"
check "mutual: initiator rejects a target that answers with another secret" \
  bash -c "! LIBISCSI_CHAP_TARGET_USERNAME=kuratarget LIBISCSI_CHAP_TARGET_PASSWORD=notthesecret1 timeout 20 iscsi-inq 'iscsi://bob%bobsecret12345@$H/$T2/0' >/dev/null 2>&1"
check "mutual: wrong initiator secret is refused" \
  bash -c "! LIBISCSI_CHAP_TARGET_USERNAME=kuratarget LIBISCSI_CHAP_TARGET_PASSWORD=targetsecret99 timeout 20 iscsi-inq 'iscsi://bob%bobsecret12346@$H/$T2/0' >/dev/null 2>&1"
# discovery
timeout 20 iscsi-ls "iscsi://discuser%discsecret1234@$H" >"$IT_DIR/ls-ok.txt" 2>&1
check "discovery CHAP: correct secret lists both targets" \
  bash -c "grep -q 'Target:$T1' '$IT_DIR/ls-ok.txt' && grep -q 'Target:$T2' '$IT_DIR/ls-ok.txt'"
timeout 20 iscsi-ls "iscsi://discuser%wrongsecret123@$H" >"$IT_DIR/ls-bad.txt" 2>&1
check "discovery CHAP: wrong secret lists nothing" bash -c "! grep -q 'Target:' '$IT_DIR/ls-bad.txt'"
timeout 20 iscsi-ls "iscsi://$H" >"$IT_DIR/ls-none.txt" 2>&1
check "discovery CHAP: no credentials lists nothing" bash -c "! grep -q 'Target:' '$IT_DIR/ls-none.txt'"
check "data written under CHAP is still there" qio "iscsi://alice%alicesecret123@$H/$T1/0" "read -P 0x61 0 64k"
check "daemon alive after refused logins" kill -0 "$KURA_PID"
kura_stop 10
it_finish
