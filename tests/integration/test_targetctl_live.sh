#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kura-targetctl acl / chap at run time: while a qemu-io loop writes and
# verifies target A, target B's ACL and CHAP accounts change (the loop sees
# no error). acl add => the new initiator sees B in discovery and logs in;
# acl remove => X's open session is closed at once, its next login is
# refused (discovery hides B). chap add
# (secret from stdin and from --secret-file) => login without CHAP refused,
# with it accepted; chap remove => open again. Each change is in the -c file,
# which kura-targetd --check-config accepts, and survives a restart. A change
# that would make the file invalid is refused and leaves the file alone;
# with the embedded default a change is run-time only. Secrets never reach
# the log.
source "$(dirname "$0")/lib.sh"
it_init targetctl_live
need_cmd qemu-io iscsi-ls iscsi-inq
CTL=$KURA_BUILD/tools/kura-targetctl
[ -x "$CTL" ] || skip "kura-targetctl not built"

P=$(free_port)
H=127.0.0.1:$P
TA=iqn.2026-11.org.kura:live-a
TB=iqn.2026-11.org.kura:live-b
X=iqn.2026-11.org.example:host-x
Y=iqn.2026-11.org.example:host-y
SECRET=livesecret12345
CONF=$IT_DIR/kura.conf
cat >"$CONF" <<CONF
; hand-written comment that must survive
[portal main]
address = 127.0.0.1:$P

[target $TA]
[lun 0]
backend = memory
size = 16M

[target $TB]
# only X at first
allow = $X

[lun 0]
backend = memory
size = 16M
CONF
chmod 600 "$CONF"
KURA_WAIT=$H kura_start -c "$CONF"
SOCK=$IT_DIR/data/kura-targetd.sock
ctl() { "$CTL" -s "$SOCK" "$@"; }
inq() { timeout 20 iscsi-inq -i "$1" "$2" >/dev/null 2>&1; }
sees_b() { timeout 20 iscsi-ls -i "$1" "iscsi://$H" 2>/dev/null | grep -q "Target:$TB"; }
parses() { "$KURA_TARGETD" --check-config -c "$CONF" >/dev/null; }

# I/O on A for the whole run; a failing pass leaves a marker
rm -f "$IT_DIR/io-fail" "$IT_DIR/io-stop"
(
  n=0
  while [ ! -f "$IT_DIR/io-stop" ]; do
    n=$((n + 1)); pat=$((n % 200 + 1))
    qio "iscsi://$H/$TA/0" "write -P $pat 0 256k" "read -P $pat 0 256k" || { echo "pass $n" >>"$IT_DIR/io-fail"; }
    echo "$n" >"$IT_DIR/io-passes"
  done
) & IT_PIDS+=($!)
IO_PID=$!

check "Y refused on B before the change" bash -c "$(declare -f inq); ! inq $Y iscsi://$H/$TB/0"
check "acl add Y (saved to the file)" bash -c "'$CTL' -s '$SOCK' acl add $TB $Y | grep -q 'saved to'"
check "Y sees B in discovery" sees_b "$Y"
check "Y logs in to B" inq "$Y" "iscsi://$H/$TB/0"
check "the file parses and keeps its comments" bash -c "$(declare -f parses); KURA_TARGETD='$KURA_TARGETD' CONF='$CONF' parses && grep -q '^; hand-written' '$CONF' && grep -q '^# only X' '$CONF' && grep -q '^allow = $Y' '$CONF'"
check "acl add twice is refused (exit 1)" bash -c "'$CTL' -s '$SOCK' acl add $TB $Y; test \$? = 1"
check "acl add of a bad name is refused" bash -c "'$CTL' -s '$SOCK' acl add $TB not-a-name 2>&1 | grep -q 'would not parse'"
check "the refused change left the file alone" bash -c "! grep -q not-a-name '$CONF'"
# X keeps a session open on B across the removal: it must be ended at once
rm -f "$IT_DIR/x-ready" "$IT_DIR/x-go" "$IT_DIR/x-out"
py_iscsi 127.0.0.1 "$P" "
import os
D='$IT_DIR'
c = Conn(); login(c, '$X', '$TB')
st, _, _ = scsi_cmd(c, bytes(6))
assert st == 0, st
open(D + '/x-ready', 'w').close()
wait_file(D + '/x-go')
try:
    c.s.settimeout(10)
    st, _, _ = scsi_cmd(c, bytes(6))
    out = 'answered %d' % st
except Exception as e:
    out = 'closed ' + type(e).__name__
open(D + '/x-out', 'w').write(out + '\n')
" >"$IT_DIR/x.log" 2>&1 &
X_PID=$!; IT_PIDS+=($X_PID)
for _ in $(seq 100); do [ -f "$IT_DIR/x-ready" ] && break; sleep 0.1; done
check "X holds a session on B before the removal" test -f "$IT_DIR/x-ready"
check "acl remove X (ends X's session)" bash -c "'$CTL' -s '$SOCK' acl remove $TB $X | grep -q 'closed 1 session no longer allowed'"
touch "$IT_DIR/x-go"; wait "$X_PID"
check "X's open session was closed by the target" grep -q '^closed' "$IT_DIR/x-out"
check "X refused at the next login" bash -c "$(declare -f inq); ! inq $X iscsi://$H/$TB/0"
check "X no longer sees B" bash -c "$(declare -f sees_b); H=$H TB=$TB; ! sees_b $X"
check "Y still logs in" inq "$Y" "iscsi://$H/$TB/0"

# CHAP: secret from stdin
check "chap add (secret on stdin)" bash -c "echo $SECRET | '$CTL' -s '$SOCK' chap add $TB alice"
check "B without CHAP refused" bash -c "$(declare -f inq); ! inq $Y iscsi://$H/$TB/0"
check "B with CHAP accepted" inq "$Y" "iscsi://alice%$SECRET@$H/$TB/0"
check "B with a wrong secret refused" bash -c "$(declare -f inq); ! inq $Y 'iscsi://alice%wrongsecret123@$H/$TB/0'"
check "config file is mode 0600 with the secret" bash -c "[ \$(stat -c %a '$CONF') = 600 ] && grep -q '^chap = alice:' '$CONF'"
printf 'filesecret6789\n' >"$IT_DIR/bob.secret"
check "chap add --secret-file" ctl chap add "$TB" bob --secret-file "$IT_DIR/bob.secret"
check "bob logs in" inq "$Y" "iscsi://bob%filesecret6789@$H/$TB/0"
check "a short secret is refused (usage, exit 2)" bash -c "echo short | '$CTL' -s '$SOCK' chap add $TB carol; test \$? = 2"
check "kura-targetd --check-config accepts the file" parses

# restart: the changes are in the file
rm -f "$IT_DIR/io-stop"
touch "$IT_DIR/io-stop"; wait "$IO_PID"
check "I/O on A saw no error during the changes ($(cat "$IT_DIR/io-passes" 2>/dev/null) passes)" test ! -f "$IT_DIR/io-fail"
check "kura-targetd exits 0" kura_stop
KURA_WAIT=$H kura_start -c "$CONF"
check "after restart: X still refused" bash -c "$(declare -f inq); ! inq $X 'iscsi://alice%$SECRET@$H/$TB/0'"
check "after restart: Y with CHAP accepted" inq "$Y" "iscsi://alice%$SECRET@$H/$TB/0"
check "after restart: Y without CHAP refused" bash -c "$(declare -f inq); ! inq $Y iscsi://$H/$TB/0"
check "chap remove alice, bob" bash -c "'$CTL' -s '$SOCK' chap remove $TB alice && '$CTL' -s '$SOCK' chap remove $TB bob"
check "chap remove of an unknown user (exit 1)" bash -c "'$CTL' -s '$SOCK' chap remove $TB alice; test \$? = 1"
check "B open to Y without CHAP again" inq "$Y" "iscsi://$H/$TB/0"
check "no secret in the log" bash -c "! grep -qE '$SECRET|filesecret6789' '$IT_DIR/kura.log'"
check "kura-targetd exits 0 (file config)" kura_stop

# embedded default: run-time only
KURA_IQN_DEF=$("$KURA_TARGETD" --print-default-config 2>/dev/null | sed -n 's/^\[target \(.*\)\]/\1/p' | head -1)
KURA_IQN_DEF=${KURA_IQN_DEF:-$KURA_IQN}
kura_start --listen "$H"
check "embedded: acl add says run-time only" bash -c "'$CTL' -s '$SOCK' acl add $KURA_IQN_DEF $X | grep -q 'run-time only'"
check "embedded: X logs in, Y refused" bash -c "$(declare -f inq); inq $X iscsi://$H/$KURA_IQN_DEF/0 && ! inq $Y iscsi://$H/$KURA_IQN_DEF/0"
check "kura-targetd exits 0 (embedded)" kura_stop
it_finish
