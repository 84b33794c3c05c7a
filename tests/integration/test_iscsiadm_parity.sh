#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kura-iscsiadm side by side with open-iscsi 2.1.8's own iscsiadm (Debian
# package open-iscsi) against one kura-targetd: the same commands run on two
# node databases, one per tool, and stdout, exit code and the files written
# (records byte for byte, send_targets links, tpgt-less records) must be the
# same; then each tool reads the other's database.
#
# How open-iscsi runs here without its kernel module: in a private mount
# namespace (unshare -m) a copy of the database is bind-mounted on
# /etc/iscsi, and a tmpfs on /sys/class holds a fake iscsi_transport/tcp
# (handle, caps) so its transport check passes; SendTargets discovery is
# user space in iscsiadm. iscsiadm asks iscsid for the initiator name unless
# the iface has one, so discovery uses an iface "ki" with
# iface.initiatorname; without iscsid it ignores iscsid.conf, so neither root
# has one (both tools then use open-iscsi's built-in defaults). Sessions need
# iscsid and the kernel: those outputs are compared in test_iscsiadm_login.sh
# against text recorded from open-iscsi. Skips (77) without open-iscsi, root
# or unshare.
source "$(dirname "$0")/lib.sh"
it_init iscsiadm-parity
ADM=$KURA_BUILD/initiator/kura-iscsiadm
[ -x "$ADM" ] || skip "kura-iscsiadm not built ($ADM missing)"
command -v iscsiadm >/dev/null || skip "open-iscsi's iscsiadm not installed (apt-get install open-iscsi)"
[ "$(id -u)" = 0 ] || skip "needs root for unshare -m (open-iscsi's database is /etc/iscsi)"
unshare -m true 2>/dev/null || skip "unshare -m not permitted here"
iscsiadm -V 2>/dev/null | grep -q '2\.1\.8' || skip "open-iscsi is not 2.1.8 ($(iscsiadm -V 2>&1))"

P1=$(free_port); P2=$(free_port); PX=$(free_port)
T1=iqn.2026-11.org.kura:par-one
T2=iqn.2026-11.org.kura:par-two
cat >"$IT_DIR/kura.conf" <<CONF
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
KURA_WAIT="127.0.0.1:$P1 127.0.0.1:$P2" kura_start -c "$IT_DIR/kura.conf"

RO=$IT_DIR/open-iscsi; RK=$IT_DIR/kura
for r in "$RO" "$RK"; do
  mkdir -p "$r/ifaces"
  echo "InitiatorName=iqn.2026-11.org.kura:parity-host" >"$r/initiatorname.iscsi"
  printf '# BEGIN RECORD 2.1.8\niface.iscsi_ifacename = ki\niface.transport_name = tcp\niface.initiatorname = iqn.2026-11.org.kura:parity-host\n# END RECORD\n' >"$r/ifaces/ki"
done

# oi ROOT ARGS...: open-iscsi's iscsiadm with /etc/iscsi = ROOT.
oi() {
  local root=$1; shift
  unshare -m bash -c 'mount --bind "$0" /etc/iscsi && mount -t tmpfs none /sys/class &&
    mkdir -p /sys/class/iscsi_transport/tcp && echo 1 >/sys/class/iscsi_transport/tcp/handle &&
    echo 0x39 >/sys/class/iscsi_transport/tcp/caps && exec iscsiadm "$@"' "$root" "$@"
}
ku() { local root=$1; shift; KURA_ISCSI_ROOT=$root KURA_INITIATORD_SOCK=$IT_DIR/none.sock "$ADM" "$@"; }
# The noise open-iscsi prints when iscsid / systemd are absent.
quiet() { grep -v -e 'iscsid' -e 'systemd' -e 'connect to bus' -e 'iSCSI daemon'; }

# both ARGS...: run on both databases; stdout and exit code must match.
both() {
  oi "$RO" "$@" >"$IT_DIR/o.out" 2>"$IT_DIR/o.err"; ORC=$?
  ku "$RK" "$@" >"$IT_DIR/k.out" 2>"$IT_DIR/k.err"; KRC=$?
  quiet <"$IT_DIR/o.err" >"$IT_DIR/o.err2"
  { echo "\$ iscsiadm $*  (open-iscsi $ORC, kura $KRC)"; diff "$IT_DIR/o.out" "$IT_DIR/k.out"; } >>"$IT_DIR/parity.log"
}
same() {
  both "$@"
  if [ "$ORC" = "$KRC" ] && cmp -s "$IT_DIR/o.out" "$IT_DIR/k.out"; then return 0; fi
  echo "  iscsiadm $*: exit open-iscsi $ORC / kura $KRC"; diff "$IT_DIR/o.out" "$IT_DIR/k.out" | head -20
  return 1
}
# same_err ARGS...: also the last stderr line (open-iscsi's final message).
same_err() {
  same "$@" || return 1
  local o k
  o=$(tail -1 "$IT_DIR/o.err2"); k=$(tail -1 "$IT_DIR/k.err" | sed "s#$RK#/etc/iscsi#g")
  [ "$o" = "$k" ] || { echo "  stderr: open-iscsi '$o' / kura '$k'"; return 1; }
}
# The databases as text: every path (links with their target, the root
# replaced) and every regular file's content.
db_text() {
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | while read -r f; do
    if [ -L "$f" ]; then echo "L $f -> $(readlink "$f" | sed "s#^$2#ROOT#")"
    elif [ -f "$f" ]; then echo "F $f"; sed 's/^/  /' "$f"
    else echo "D $f"; fi
  done)
}
same_db() {
  diff <(db_text "$RO" /etc/iscsi) <(db_text "$RK" "$(realpath "$RK")") >"$IT_DIR/db.diff" && return 0
  echo "  databases differ (< open-iscsi, > kura):"; head -30 "$IT_DIR/db.diff"; return 1
}

# --- discovery and the records it writes
check "discovery -I ki: same lines and exit" same -m discovery -t st -p 127.0.0.1:$P1 -I ki
check "discovery: same database (records byte for byte, send_targets links)" same_db
check "discovery with an unknown iface: refused the same way, nothing written" \
  bash -c "$(declare -f both same same_err oi ku quiet); RO='$RO' RK='$RK' IT_DIR='$IT_DIR' ADM='$ADM'; same_err -m discovery -t st -p 127.0.0.1:$P1 -I nosuch"
check "unknown iface: still the same database" same_db
check "node list" same -m node
check "node list -P 1" same -m node -P 1
check "node -o show (the iface.* lines)" same -m node -T $T1 -p 127.0.0.1:$P2 -o show
check "discoverydb -o show (chap_algs)" same -m discoverydb -t st -p 127.0.0.1:$P1 -o show
check "iface list (records, default, iser)" same -m iface
check "iface -o show" same -m iface -I ki -o show

# --- static records
check "-o new without tpgt (flat record)" same -m node -o new -T iqn.2026-11.org.kura:s -p 10.0.0.1:3260
check "-o new of the same record again: 0" same -m node -o new -T iqn.2026-11.org.kura:s -p 10.0.0.1:3260
check "-o new with a tpgt" same -m node -o new -T iqn.2026-11.org.kura:s -p 10.0.0.1:3261,5
check "-o new bound to iface ki" same -m node -o new -T iqn.2026-11.org.kura:s -p 10.0.0.1:3263 -I ki
check "-o new with an unknown iface" same_err -m node -o new -T iqn.2026-11.org.kura:s -p 10.0.0.1:3264 -I nosuch
check "-o update" same -m node -T iqn.2026-11.org.kura:s -p 10.0.0.1:3263 -o update -n node.startup -v automatic
check "static records: same database (flat files, static/ links)" same_db
check "node list with flat records (unknown tpgt)" same -m node
check "node -P 1 with flat records" same -m node -P 1
check "show of a flat record" same -m node -T iqn.2026-11.org.kura:s -p 10.0.0.1:3263 -o show

# --- errors and exit codes
check "missing discovery record: delete 6" same_err -m discoverydb -t st -p 127.0.0.1:$PX -o delete
check "missing discovery record: update 6" same_err -m discoverydb -t st -p 127.0.0.1:$PX -o update -n discovery.sendtargets.auth.authmethod -v CHAP
check "missing discovery record: show 6" same_err -m discoverydb -t st -p 127.0.0.1:$PX -o show
check "firmware mode: 21" same_err -m fw
check "host mode: 21" same_err -m host
check "session -r with no such SID: 22" same_err -m session -r 99
check "unknown target: 21" same_err -m node -T iqn.2026-11.org.kura:none -o show
same -m discoverydb -t st -p 127.0.0.1:$PX -o new >/dev/null
same -m discoverydb -t st -p 127.0.0.1:$PX -o update -n discovery.sendtargets.reopen_max -v 1 >/dev/null
check "refused discovery connection: 11 after reopen_max" same_err -m discoverydb -t st -p 127.0.0.1:$PX -D -I ki
check "refused discovery: the same connect lines" \
  bash -c "[ \"\$(grep -c 'cannot make connection to 127.0.0.1: Connection refused' '$IT_DIR/o.err2')\" = \"\$(grep -c 'cannot make connection to 127.0.0.1: Connection refused' '$IT_DIR/k.err')\" ]"

# --- each tool reads the other's records
for args in "-m node -P 1" "-m node -T $T1 -p 127.0.0.1:$P1 -o show" \
            "-m node -T iqn.2026-11.org.kura:s -p 10.0.0.1:3263 -o show"; do
  # shellcheck disable=SC2086
  check "kura reads open-iscsi's database: $args" \
    bash -c "diff <(KURA_ISCSI_ROOT='$RO' KURA_INITIATORD_SOCK=x '$ADM' $args 2>&1) <(KURA_ISCSI_ROOT='$RK' KURA_INITIATORD_SOCK=x '$ADM' $args 2>&1)"
  # shellcheck disable=SC2086
  check "open-iscsi reads kura's database: $args" \
    bash -c "$(declare -f oi quiet); diff <(oi '$RK' $args 2>&1 | quiet) <(oi '$RO' $args 2>&1 | quiet)"
done

# --- deletes
check "node delete" same -m node -T iqn.2026-11.org.kura:s -p 10.0.0.1:3261 -o delete
check "discoverydb delete" same -m discoverydb -t st -p 127.0.0.1:$P1 -o delete
check "after the deletes: same database (no orphan links)" same_db
check "node list after the deletes" same -m node
check "target alive" kill -0 "$KURA_PID"
kura_stop 10
it_finish
