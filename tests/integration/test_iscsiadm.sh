#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kura-iscsiadm against a real kura-targetd: SendTargets discovery output and
# the records it writes (open-iscsi layout), node list / -P 1 / show / update /
# delete, discoverydb with CHAP (right: targets listed; wrong: exit 24), an
# unreachable portal (exit 11 after the reconnects), no records (exit 21), -m session without the
# daemon (exit 21), iface new/update/delete, bad arguments (exit 7).
# Login/logout through kura-initiatord are in test_iscsiadm_login.sh.
source "$(dirname "$0")/lib.sh"
it_init iscsiadm
ADM=$KURA_BUILD/initiator/kura-iscsiadm
[ -x "$ADM" ] || skip "kura-iscsiadm not built ($ADM missing)"

P1=$(free_port); P2=$(free_port); P3=$(free_port); PX=$(free_port)
T1=iqn.2026-11.org.kura:adm-one
T2=iqn.2026-11.org.kura:adm-two
cat >"$IT_DIR/a.conf" <<CONF
[portal one]
address = 127.0.0.1:$P1
tpgt = 1
[portal two]
address = 127.0.0.1:$P2
tpgt = 2
[target $T1]
[lun 0]
backend = memory
size = 16M
[target $T2]
[lun 0]
backend = memory
size = 16M
CONF
cat >"$IT_DIR/b.conf" <<CONF
[portal main]
address = 127.0.0.1:$P3
[discovery]
chap = discuser:discsecret1234
[target $T1]
[lun 0]
backend = memory
size = 16M
CONF
chmod 600 "$IT_DIR"/*.conf
mkdir -p "$IT_DIR/data-b"
KURA_WAIT="127.0.0.1:$P1 127.0.0.1:$P2" kura_start -c "$IT_DIR/a.conf"
"$KURA_TARGETD" --foreground --data-dir "$IT_DIR/data-b" -c "$IT_DIR/b.conf" >>"$IT_DIR/kura-b.log" 2>&1 &
IT_PIDS+=($!)
wait_port 127.0.0.1 "$P3" 30 || die "second kura-targetd did not listen on $P3"

ROOT=$IT_DIR/iscsi
export KURA_ISCSI_ROOT=$ROOT
export KURA_INITIATORD_SOCK=$IT_DIR/no-daemon.sock
# adm EXPECTED_RC ARGS...: run, keep stdout/stderr in $OUT/$ERR, check the code.
adm() {
  local want=$1; shift
  OUT=$("$ADM" "$@" 2>"$IT_DIR/err"); RC=$?
  ERR=$(cat "$IT_DIR/err")
  echo "\$ iscsiadm $* -> $RC" >>"$IT_DIR/adm.log"; echo "$OUT" >>"$IT_DIR/adm.log"; echo "$ERR" >>"$IT_DIR/adm.log"
  [ "$RC" = "$want" ] || { echo "  iscsiadm $*: exit $RC, wanted $want; stderr: $ERR"; return 1; }
}
has_line() { printf '%s\n' "$1" | grep -qxF -- "$2" || { echo "  missing line '$2' in:"; printf '%s\n' "$1" | sed 's/^/    /'; return 1; }; }

# --- empty database
check "node list with no records: exit 21 + message" \
  bash -c "$(declare -f adm); ADM='$ADM' IT_DIR='$IT_DIR'; adm 21 -m node && [ \"\$ERR\" = 'iscsiadm: No records found' ]"
check "session list without daemon: exit 21 + 'No active sessions.'" \
  bash -c "$(declare -f adm); ADM='$ADM' IT_DIR='$IT_DIR'; adm 21 -m session && [ \"\$ERR\" = 'iscsiadm: No active sessions.' ]"

# --- discovery on the two-portal target
adm 0 -m discovery -t sendtargets -p 127.0.0.1:$P1; D_OUT=$OUT
check "discovery exit 0" [ "$RC" = 0 ]
check "discovery prints T1 on portal 1 (tpgt 1)" has_line "$D_OUT" "127.0.0.1:$P1,1 $T1"
check "discovery prints T1 on portal 2 (tpgt 2)" has_line "$D_OUT" "127.0.0.1:$P2,2 $T1"
check "discovery prints T2 on both portals" \
  bash -c "$(declare -f has_line); has_line '$D_OUT' '127.0.0.1:$P1,1 $T2' && has_line '$D_OUT' '127.0.0.1:$P2,2 $T2'"
check "discovery prints exactly 4 lines" [ "$(printf '%s\n' "$D_OUT" | wc -l)" = 4 ]
check "node record written in open-iscsi layout" test -f "$ROOT/nodes/$T1/127.0.0.1,$P2,2/default"
check "node record is 0600 (may hold CHAP secrets)" [ "$(stat -c %a "$ROOT/nodes/$T1/127.0.0.1,$P2,2/default")" = 600 ]
check "record opens with BEGIN RECORD and ends with END RECORD" \
  bash -c "head -1 '$ROOT/nodes/$T1/127.0.0.1,$P1,1/default' | grep -q '^# BEGIN RECORD ' && tail -1 '$ROOT/nodes/$T1/127.0.0.1,$P1,1/default' | grep -qx '# END RECORD'"
check "record remembers its discovery portal" \
  grep -qx "node.discovery_address = 127.0.0.1" "$ROOT/nodes/$T1/127.0.0.1,$P1,1/default"
check "send_targets record written" test -f "$ROOT/send_targets/127.0.0.1,$P1/st_config"
check "initiator name generated once" grep -q '^InitiatorName=iqn.2026-11.org.kura:' "$ROOT/initiatorname.iscsi"
NAME1=$(cat "$ROOT/initiatorname.iscsi")
adm 0 -m discovery -t st -p 127.0.0.1:$P1
check "second discovery: same output, same initiator name" \
  bash -c '[ "$1" = "$2" ] && [ "$(cat "$3")" = "$4" ]' _ "$OUT" "$D_OUT" "$ROOT/initiatorname.iscsi" "$NAME1"

# --- node list / -P 1 / show / update / delete
adm 0 -m node; N_OUT=$OUT
check "node list has the 4 records" [ "$(printf '%s\n' "$N_OUT" | wc -l)" = 4 ]
check "node list format 'IP:PORT,TPGT IQN'" has_line "$N_OUT" "127.0.0.1:$P2,2 $T2"
adm 0 -m node -P 1
check "node -P 1 tree" bash -c "printf '%s\n' \"\$1\" | grep -qx 'Target: $T1' && printf '%s\n' \"\$1\" | grep -qxP '\tPortal: 127.0.0.1:$P1,1' && printf '%s\n' \"\$1\" | grep -qxP '\t\tIface Name: default'" _ "$OUT"
adm 0 -m node -T $T1 -p 127.0.0.1:$P1 -o show; S_OUT=$OUT
check "show: node.name" has_line "$S_OUT" "node.name = $T1"
check "show: node.tpgt" has_line "$S_OUT" "node.tpgt = 1"
check "show: node.startup defaults to manual" has_line "$S_OUT" "node.startup = manual"
check "show: empty values as <empty>" has_line "$S_OUT" "node.session.auth.username = <empty>"
check "show: node.conn[0].port" has_line "$S_OUT" "node.conn[0].port = $P1"
adm 0 -m node -T $T1 -p 127.0.0.1:$P1 -o update -n node.session.auth.authmethod -v CHAP \
  -n node.session.auth.username -v alice -n node.session.auth.password -v alicesecret123
check "update: exit 0" [ "$RC" = 0 ]
adm 0 -m node -T $T1 -p 127.0.0.1:$P1 -o show
check "update: value shown" has_line "$OUT" "node.session.auth.username = alice"
check "update: secret masked" has_line "$OUT" "node.session.auth.password = ********"
adm 0 -m node -T $T1 -p 127.0.0.1:$P1 -o show -S
check "show -S reveals the secret" has_line "$OUT" "node.session.auth.password = alicesecret123"
check "update: stored on disk" grep -qx "node.session.auth.username = alice" "$ROOT/nodes/$T1/127.0.0.1,$P1,1/default"
adm 7 -m node -T $T1 -p 127.0.0.1:$P1 -o update -n node.startup -v sometimes
check "update with a bad enum value: exit 7" [ "$RC" = 7 ]
adm 7 -m node -T $T1 -p 127.0.0.1:$P1 -o update -n node.no.such.key -v 1
check "update of an unknown key: exit 7" [ "$RC" = 7 ]
adm 0 -m node -T $T1 -p 127.0.0.1:$P1 -o update -n node.startup -v automatic
check "unknown keys in a record survive an update" bash -c "
  f='$ROOT/nodes/$T2/127.0.0.1,$P1,1/default'
  sed -i 's/^# END RECORD/node.future.key = kept\n# END RECORD/' \"\$f\"
  '$ADM' -m node -T $T2 -p 127.0.0.1:$P1 -o update -n node.session.queue_depth -v 64 &&
  grep -qx 'node.future.key = kept' \"\$f\" && grep -qx 'node.session.queue_depth = 64' \"\$f\""
adm 0 -m discovery -t st -p 127.0.0.1:$P1
check "rediscovery keeps settings of existing records" \
  grep -qx "node.session.auth.username = alice" "$ROOT/nodes/$T1/127.0.0.1,$P1,1/default"
adm 0 -m node -T $T2 -p 127.0.0.1:$P2 -o delete
check "delete: record gone" test ! -e "$ROOT/nodes/$T2/127.0.0.1,$P2,2"
adm 0 -m node
check "delete: 3 records left" [ "$(printf '%s\n' "$OUT" | wc -l)" = 3 ]
adm 21 -m node -T iqn.2026-11.org.kura:nothing -o show
check "show of an unknown target: exit 21" [ "$RC" = 21 ]
adm 0 -m node -o new -T iqn.2026-11.org.kura:static -p 127.0.0.1:3260
check "node -o new prints open-iscsi's line" has_line "$OUT" \
  "New iSCSI node [tcp:[hw=,ip=,net_if=,iscsi_if=default] 127.0.0.1,3260,-1 iqn.2026-11.org.kura:static] added"
adm 0 -m node -T iqn.2026-11.org.kura:static -o delete

# --- discoverydb with CHAP (second daemon)
adm 0 -m discoverydb -t st -p 127.0.0.1:$P3 -o new
check "discoverydb -o new message" has_line "$OUT" "New discovery record for [127.0.0.1,$P3] added."
adm 0 -m discoverydb -t st -p 127.0.0.1:$P3 -o update -n discovery.sendtargets.auth.authmethod -v CHAP \
  -n discovery.sendtargets.auth.username -v discuser -n discovery.sendtargets.auth.password -v wrongsecret99
adm 24 -m discoverydb -t st -p 127.0.0.1:$P3 --discover
check "discovery CHAP with a wrong secret: exit 24" [ "$RC" = 24 ]
check "wrong CHAP: open-iscsi's final message" \
  bash -c "printf '%s\n' \"\$1\" | grep -qx 'iscsiadm: Could not perform SendTargets discovery: iSCSI login failed due to authorization failure'" _ "$ERR"
check "wrong CHAP: the secret is not printed" bash -c "! grep -q wrongsecret99 '$IT_DIR/err'"
adm 0 -m discoverydb -t st -p 127.0.0.1:$P3 -o update -n discovery.sendtargets.auth.password -v discsecret1234
adm 0 -m discoverydb -t st -p 127.0.0.1:$P3 -D
check "discovery CHAP with the right secret lists the target" has_line "$OUT" "127.0.0.1:$P3,1 $T1"
adm 0 -m discoverydb -t st -p 127.0.0.1:$P3 -o show
check "discoverydb show masks the secret" has_line "$OUT" "discovery.sendtargets.auth.password = ********"
check "discoverydb show has the user" has_line "$OUT" "discovery.sendtargets.auth.username = discuser"
adm 0 -m discovery
check "discovery records listed" bash -c "$(declare -f has_line); has_line \"\$1\" '127.0.0.1:$P1 via sendtargets' && has_line \"\$1\" '127.0.0.1:$P3 via sendtargets'" _ "$OUT"
adm 0 -m discoverydb -t st -p 127.0.0.1:$P3 -o delete
check "discoverydb delete removes the record and its nodes" \
  bash -c "test ! -e '$ROOT/send_targets/127.0.0.1,$P3' && test ! -e '$ROOT/nodes/$T1/127.0.0.1,$P3,1'"
check "discoverydb delete keeps other portals' nodes" test -f "$ROOT/nodes/$T1/127.0.0.1,$P1,1/default"

# --- unreachable portal
# (open-iscsi reconnects reopen_max times, 1 s apart, then exits 11; 1 retry here)
adm 0 -m discoverydb -t st -p 127.0.0.1:$PX -o new
adm 0 -m discoverydb -t st -p 127.0.0.1:$PX -o update -n discovery.sendtargets.reopen_max -v 1
adm 11 -m discoverydb -t st -p 127.0.0.1:$PX -D
check "discovery of a closed port: exit 11 after the reconnects" [ "$RC" = 11 ]
check "closed port: open-iscsi's lines" \
  bash -c "printf '%s\n' \"\$1\" | grep -qx 'iscsiadm: cannot make connection to 127.0.0.1: Connection refused' && printf '%s\n' \"\$1\" | grep -qx 'iscsiadm: Could not perform SendTargets discovery: iSCSI PDU timed out'" _ "$ERR"
adm 0 -m discoverydb -t st -p 127.0.0.1:$PX -o delete

# --- a portal that accepts TCP but never answers the login: timeout (8)
PS=$(free_port)
python3 -c "import socket,time;s=socket.socket();s.bind(('127.0.0.1',$PS));s.listen(8);time.sleep(600)" &
IT_PIDS+=($!)
wait_port 127.0.0.1 "$PS" 10
adm 0 -m discoverydb -t st -p 127.0.0.1:$PS -o new
adm 0 -m discoverydb -t st -p 127.0.0.1:$PS -o update -n discovery.sendtargets.timeo.login_timeout -v 2
T0=$(date +%s)
adm 8 -m discoverydb -t st -p 127.0.0.1:$PS -D
check "silent portal: exit 8 (connection timed out)" [ "$RC" = 8 ]
check "silent portal: gave up after the record's login_timeout" [ $(( $(date +%s) - T0 )) -le 6 ]
check "silent portal: open-iscsi's final message" \
  bash -c "printf '%s\n' \"\$1\" | grep -qx 'iscsiadm: Could not perform SendTargets discovery: connection timed out'" _ "$ERR"
adm 0 -m discoverydb -t st -p 127.0.0.1:$PS -o delete

# --- iface
adm 0 -m iface
check "iface list has default" has_line "$OUT" "default tcp,<empty>,<empty>,<empty>,<empty>"
adm 0 -m iface -I eth-a -o new
check "iface new" has_line "$OUT" "New interface eth-a added"
adm 0 -m iface -I eth-a -o update -n iface.ipaddress -v 127.0.0.1
check "iface update" has_line "$OUT" "eth-a updated."
adm 0 -m iface
check "iface list shows the update" has_line "$OUT" "eth-a tcp,<empty>,127.0.0.1,<empty>,<empty>"
adm 0 -m iface -I eth-a -o show
check "iface show" has_line "$OUT" "iface.ipaddress = 127.0.0.1"
adm 0 -m iface -I eth-a -o delete
check "iface delete" has_line "$OUT" "eth-a unbound and deleted."
adm 21 -m iface -I eth-a -o show
check "deleted iface is gone (exit 21)" [ "$RC" = 21 ]
adm 7 -m iface -I default -o delete
check "default iface cannot be deleted (exit 7)" [ "$RC" = 7 ]

# --- argument errors
adm 7 -m node -t st
check "node mode rejects -t (exit 7)" bash -c "[ '$RC' = 7 ] && printf '%s' \"\$1\" | grep -q \"option '-t' is not allowed\"" _ "$ERR"
adm 7 -m discovery -t st
check "discovery without -p: exit 7" [ "$RC" = 7 ]
adm 7 -m bogus
check "unknown mode: exit 7" [ "$RC" = 7 ]
adm 20 -m node -T $T1 -p 127.0.0.1:$P1 --login
check "login without kura-initiatord: exit 20, names the daemon" \
  bash -c "printf '%s' \"\$1\" | grep -q 'kura-initiatord is not running'" _ "$ERR"
check "daemons alive" bash -c "kill -0 $KURA_PID && kill -0 ${IT_PIDS[0]}"
kura_stop 10
it_finish
