#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kura-iscsiadm login / session / logout through a real kura-initiatord and
# kura-targetd (two portals, so one target gives two paths): discovery, node
# --login prints open-iscsi's lines, -m session lists both paths (-P 0/1/3),
# a second login says "session exists" (15), logout by node and by -U all,
# then "No active sessions." (21). Skips (77) when kura-initiatord is absent.
source "$(dirname "$0")/lib.sh"
it_init iscsiadm-login
ADM=$KURA_BUILD/initiator/kura-iscsiadm
INID=$KURA_BUILD/initiator/kura-initiatord
[ -x "$ADM" ] || skip "kura-iscsiadm not built ($ADM missing)"
[ -x "$INID" ] || skip "kura-initiatord not built ($INID missing): login/session tests need the daemon"

P1=$(free_port); P2=$(free_port)
T1=iqn.2026-11.org.kura:login-one
cat >"$IT_DIR/kura.conf" <<CONF
[portal one]
address = 127.0.0.1:$P1
[portal two]
address = 127.0.0.1:$P2
[target $T1]
[lun 0]
backend = memory
size = 16M
CONF
KURA_WAIT="127.0.0.1:$P1 127.0.0.1:$P2" kura_start -c "$IT_DIR/kura.conf"

export KURA_ISCSI_ROOT=$IT_DIR/iscsi
export KURA_INITIATORD_SOCK=$IT_DIR/ini.sock
adm() {
  local want=$1; shift
  OUT=$(timeout 60 "$ADM" "$@" 2>"$IT_DIR/err"); RC=$?
  ERR=$(cat "$IT_DIR/err")
  { echo "\$ iscsiadm $* -> $RC"; echo "$OUT"; echo "$ERR"; } >>"$IT_DIR/adm.log"
  [ "$RC" = "$want" ] || { echo "  iscsiadm $*: exit $RC, wanted $want; stderr: $ERR"; return 1; }
}
has_line() { printf '%s\n' "$1" | grep -qxF -- "$2" || { echo "  missing '$2' in:"; printf '%s\n' "$1" | sed 's/^/    /'; return 1; }; }

adm 0 -m discovery -t st -p 127.0.0.1:$P1
check "discovery finds both portals" [ "$(printf '%s\n' "$OUT" | wc -l)" = 2 ]
adm 0 -m iface  # creates nothing; initiator name exists after discovery
"$INID" --root "$KURA_ISCSI_ROOT" --ctl-sock "$KURA_INITIATORD_SOCK" --log-level info \
  >>"$IT_DIR/initiatord.log" 2>&1 &
IT_PIDS+=($!)
for i in $(seq 1 100); do [ -S "$KURA_INITIATORD_SOCK" ] && break; sleep 0.1; done
[ -S "$KURA_INITIATORD_SOCK" ] || { tail -20 "$IT_DIR/initiatord.log"; die "kura-initiatord did not create its socket"; }

check "no sessions yet: exit 21" adm 21 -m session
adm 0 -m node -T $T1 --login
check "login: exit 0" [ "$RC" = 0 ]
check "login: 'Logging in to' line for portal 1" has_line "$OUT" \
  "Logging in to [iface: default, target: $T1, portal: 127.0.0.1,$P1]"
check "login: 'successful' line for portal 1" has_line "$OUT" \
  "Login to [iface: default, target: $T1, portal: 127.0.0.1,$P1] successful."
check "login: 'successful' line for portal 2" has_line "$OUT" \
  "Login to [iface: default, target: $T1, portal: 127.0.0.1,$P2] successful."
adm 0 -m session; S_OUT=$OUT
check "session list: two paths" [ "$(printf '%s\n' "$S_OUT" | wc -l)" = 2 ]
check "session list format" bash -c "printf '%s\n' \"\$1\" | grep -qE '^tcp: \[[0-9]+\] 127\.0\.0\.1:$P1,1 $T1 \(non-flash\)$'" _ "$S_OUT"
SID=$(printf '%s\n' "$S_OUT" | sed -n "s/^tcp: \[\([0-9]*\)\] 127.0.0.1:$P2,.*/\1/p")
adm 0 -m session -P 1
check "session -P 1: Target and Current Portal" bash -c "printf '%s\n' \"\$1\" | grep -qx 'Target: $T1 (non-flash)' && printf '%s\n' \"\$1\" | grep -qxP '\tCurrent Portal: 127.0.0.1:$P2,2'" _ "$OUT"
check "session -P 1: state LOGGED IN" bash -c "printf '%s\n' \"\$1\" | grep -qxP '\t\tiSCSI Connection State: LOGGED IN'" _ "$OUT"
adm 0 -m session -P 3 -r "$SID"
check "session -P 3 -r SID: one session with its LUN" bash -c "printf '%s\n' \"\$1\" | grep -qxP '\t\tSID: $SID' && printf '%s\n' \"\$1\" | grep -qP '^\t\tscsi$SID Channel 00 Id 0 Lun: 0\$'" _ "$OUT"
adm 22 -m session -r 9999
check "unknown sid: exit 22 as open-iscsi" bash -c "[ '$RC' = 22 ] && printf '%s' \"\$1\" | grep -q 'Could not get session info for sid 9999'" _ "$ERR"
adm 15 -m node -T $T1 -p 127.0.0.1:$P1 -o delete
check "delete of a record with a live session: refused (15), record kept" \
  bash -c "printf '%s' \"\$1\" | grep -q 'but a session is using it' && test -e '$KURA_ISCSI_ROOT/nodes/$T1/127.0.0.1,$P1,1/default'" _ "$ERR"
adm 15 -m node -T $T1 -p 127.0.0.1:$P1 --login
check "second login to the same path: exit 15 (session exists)" \
  bash -c "printf '%s' \"\$1\" | grep -q 'initiator reported error (15 - session exists)'" _ "$ERR"
adm 0 -m session -R -r "$SID"
check "rescan one session" has_line "$OUT" "Rescanning session [sid: $SID, target: $T1, portal: 127.0.0.1,$P2]"
adm 0 -m node -T $T1 -p 127.0.0.1:$P1 --logout
check "logout by node: open-iscsi lines" bash -c "printf '%s\n' \"\$1\" | grep -qE '^Logout of \[sid: [0-9]+, target: $T1, portal: 127.0.0.1,$P1\] successful\.$'" _ "$OUT"
adm 0 -m session
check "one path left" [ "$(printf '%s\n' "$OUT" | wc -l)" = 1 ]
adm 0 -m node -U all
check "logoutall: the other path" has_line "$OUT" "Logout of [sid: $SID, target: $T1, portal: 127.0.0.1,$P2] successful."
adm 21 -m session
check "after logout: 'No active sessions.' exit 21" [ "$ERR" = "iscsiadm: No active sessions." ]
adm 21 -m node -T $T1 --logout
check "logout with nothing logged in: exit 21" [ "$ERR" = "iscsiadm: No matching sessions found" ]
adm 0 -m discovery -t st -p 127.0.0.1:$P1 --login
check "discovery --login: both portals logged in" bash -c "[ \$(printf '%s\n' \"\$1\" | grep -c '^Login to .* successful\.$') = 2 ]" _ "$OUT"
check "discovery --login: discovery lines first" has_line "$OUT" "127.0.0.1:$P2,2 $T1"
adm 0 -m session
check "two sessions after discovery --login" [ "$(printf '%s\n' "$OUT" | wc -l)" = 2 ]
adm 0 -m session -u
check "session -u logs out everything" bash -c "[ \$(printf '%s\n' \"\$1\" | grep -c '^Logout of .* successful\.$') = 2 ]" _ "$OUT"
check "no sessions left" adm 21 -m session
adm 0 -m node -T $T1 -p 127.0.0.1:$P1 -o update -n node.startup -v automatic
adm 0 -m node -L automatic
check "loginall automatic: only the automatic record" bash -c "[ \$(printf '%s\n' \"\$1\" | grep -c '^Login to .* successful\.$') = 1 ] && printf '%s\n' \"\$1\" | grep -q 'portal: 127.0.0.1,$P1\] successful'" _ "$OUT"
adm 21 -m node -U manual
check "logoutall manual: no manual session to log out (21)" [ "$RC" = 21 ]
adm 0 -m node -U automatic
check "logoutall automatic: logs it out" has_line "$OUT" "Logging out of session [sid: $(printf '%s' "$OUT" | sed -n 's/^Logging out of session \[sid: \([0-9]*\),.*/\1/p'), target: $T1, portal: 127.0.0.1,$P1]"
check "no sessions at the end" adm 21 -m session
check "daemons alive" bash -c "kill -0 $KURA_PID && kill -0 ${IT_PIDS[0]}"
kura_stop 10
it_finish
