#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kura-multipath, stable names and `kura-iscsiadm -m session -P 3` (issue 12
# items 1, 2, 3) against one real kura-targetd with two portals (one LU, two
# paths) and kura-initiatord with FUSE and NBD front ends and --disk-dir:
#  - -P 3 prints open-iscsi's layout with the negotiated parameters (the
#    target's [limits] are set to unusual values, and one path's node record
#    asks for CRC32C header digests, so the values must come from the real
#    negotiation), the connection's local address (compared with ss) and the
#    kura device in the "Attached scsi disk" place, with which path carries I/O;
#  - kura-multipath -ll / show paths / show maps (and --json);
#  - fail path on the path carrying I/O: writes continue, on the other path
#    only (the target's per-session byte counters, matched by ISID); reinstate:
#    the path carries the writes again; unknown path: "fail", exit 1;
#  - fail queue on a map whose paths are all failed: a queued read fails
#    with EIO at once instead of after --no-path-retry (30 s);
#  - by-id / by-path links to the FUSE file and NBD socket work, go away at
#    the last path's logout and come back under the same names at the login.
# Skips (77) without kura-initiatord, FUSE, python3, qemu-io or ss.
source "$(dirname "$0")/lib.sh"
it_init initiator-multipath
ADM=$KURA_BUILD/initiator/kura-iscsiadm
INID=$KURA_BUILD/initiator/kura-initiatord
MP=$KURA_BUILD/initiator/kura-multipath
CTL=$KURA_BUILD/tools/kura-targetctl
[ -x "$INID" ] && [ -x "$MP" ] || skip "kura-initiatord / kura-multipath not built"
[ -x "$CTL" ] || skip "kura-targetctl not built"
[ -e /dev/fuse ] || skip "no /dev/fuse"
need_cmd python3 qemu-io ss

P1=$(free_port); P2=$(free_port)
T=iqn.2026-11.org.kura:mpath
cat >"$IT_DIR/kura.conf" <<CONF
[global]
data_dir = $IT_DIR/data
[limits]
max_recv_data_segment_length = 65536
max_burst_length = 131072
first_burst_length = 65536
initial_r2t = yes
immediate_data = no
[portal one]
address = 127.0.0.1:$P1
tpgt = 1
[portal two]
address = 127.0.0.2:$P2
tpgt = 2
[target $T]
[lun 0]
backend = file
path = mp.img
size = 32M
create = yes
CONF
KURA_WAIT="127.0.0.1:$P1 127.0.0.2:$P2" kura_start -c "$IT_DIR/kura.conf"
TSOCK=$IT_DIR/data/kura-targetd.sock

export KURA_ISCSI_ROOT=$IT_DIR/iscsi KURA_INITIATORD_SOCK=$IT_DIR/ini.sock
FUSE=$IT_DIR/lu NBD=$IT_DIR/nbd DISK=$IT_DIR/disk
"$INID" --root "$KURA_ISCSI_ROOT" --ctl-sock "$KURA_INITIATORD_SOCK" --fuse-dir "$FUSE" \
  --nbd-dir "$NBD" --disk-dir "$DISK" --no-path-retry 30 --log-level info \
  >"$IT_DIR/initiatord.log" 2>&1 &
INI_PID=$!
IT_PIDS+=("$INI_PID")
fini() { fusermount3 -u "$FUSE" 2>/dev/null || umount -l "$FUSE" 2>/dev/null; it_cleanup; }
trap fini EXIT
for _ in $(seq 1 100); do [ -S "$KURA_INITIATORD_SOCK" ] && break; sleep 0.1; done
[ -S "$KURA_INITIATORD_SOCK" ] || die "kura-initiatord did not create its socket"

"$ADM" -m discovery -t st -p 127.0.0.1:$P1 >/dev/null || die "discovery failed"
"$ADM" -m node -T $T -p 127.0.0.2:$P2 -o update -n node.conn[0].iscsi.HeaderDigest -v CRC32C ||
  die "cannot set HeaderDigest on the second record"
"$ADM" -m node -T $T --login >"$IT_DIR/login.out" 2>&1 || die "login failed: $(cat "$IT_DIR/login.out")"
BP1="$DISK/by-path/ip-127.0.0.1:$P1-iscsi-$T-lun-0"
BP2="$DISK/by-path/ip-127.0.0.2:$P2-iscsi-$T-lun-0"
wait_for() { for _ in $(seq 1 100); do eval "$1" && return 0; sleep 0.1; done; return 1; }
wait_for "ls '$FUSE'/naa.* >/dev/null 2>&1 && test -L '$BP1' && test -L '$BP2'" ||
  die "LU or its by-path names not presented: $(ls -R "$DISK" "$FUSE" 2>&1)"
W=$(basename "$(ls -d "$FUSE"/naa.* | head -1)")
mpj() { "$MP" show "$1" --json; }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }

# ---- stable names ---------------------------------------------------------
check "by-id/wwn-$W -> the FUSE file" [ "$(readlink "$DISK/by-id/wwn-$W")" = "$(realpath "$FUSE")/$W" ]
check "by-id/wwn-$W.sock -> the NBD socket" [ "$(readlink "$DISK/by-id/wwn-$W.sock")" = "$(realpath "$NBD")/$W.sock" ]
check "by-path names for both paths, file and socket" \
  bash -c "test -e '$BP1' && test -e '$BP2' && test -S '$BP1.sock' && test -S '$BP2.sock'"
check "write through the by-id NBD name" qemu-io -f raw -c "write -P 0x4d 0 1M" \
  "nbd+unix:///?socket=$DISK/by-id/wwn-$W.sock"
check "read it back through a by-path FUSE name" python3 -c "
import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); b=os.pread(fd, 1<<20, 0)
sys.exit(0 if b == b'\x4d' * (1<<20) else 1)" "$BP2"

# ---- -m session -P 3 --------------------------------------------------------
"$ADM" -m session -P 3 >"$IT_DIR/p3.out" 2>&1 || die "-P 3 failed: $(cat "$IT_DIR/p3.out")"
local_of() { ss -Htn state established "( dport = :$1 )" | awk '{print $3}' | sed 's/:[0-9]*$//' | head -1; }
L1=$(local_of $P1); L2=$(local_of $P2)
log "local addresses (ss): $L1 $L2"
INAME=$(sed -n 's/^InitiatorName=//p' "$KURA_ISCSI_ROOT/initiatorname.iscsi")
# (grep rather than python on the JSON: python's start-up is seconds on a loaded machine)
active_sids() { mpj paths | grep -o '"sid":[0-9]*,"lun":[0-9]*,"tpgt":[0-9]*,"admin_failed":[a-z]*,"active":true' | sed 's/^"sid":\([0-9]*\),.*/\1/'; }
ACT=$(active_sids | head -1)
state_of() { [ "$1" = "$ACT" ] && echo "running (active: carries I/O)" || echo "running (standby: no I/O now)"; }
expect_session() { # SID PORTAL TPGT LOCAL DIGEST
  printf '\tCurrent Portal: %s,%s\n\tPersistent Portal: %s,%s\n' "$2" "$3" "$2" "$3"
  printf '\t\t**********\n\t\tInterface:\n\t\t**********\n'
  printf '\t\tIface Name: default\n\t\tIface Transport: tcp\n\t\tIface Initiatorname: %s\n' "$INAME"
  printf '\t\tIface IPaddress: %s\n\t\tIface HWaddress: default\n\t\tIface Netdev: default\n' "$4"
  printf '\t\tSID: %s\n\t\tiSCSI Connection State: LOGGED IN\n\t\tiSCSI Session State: LOGGED_IN\n' "$1"
  printf '\t\tInternal iscsid Session State: NO CHANGE\n'
  printf '\t\t*********\n\t\tTimeouts:\n\t\t*********\n'
  printf '\t\tRecovery Timeout: 120\n\t\tTarget Reset Timeout: 30\n\t\tLUN Reset Timeout: 30\n\t\tAbort Timeout: 15\n'
  printf '\t\t*****\n\t\tCHAP:\n\t\t*****\n'
  printf '\t\tusername: <empty>\n\t\tpassword: <empty>\n\t\tusername_in: <empty>\n\t\tpassword_in: <empty>\n'
  printf '\t\t************************\n\t\tNegotiated iSCSI params:\n\t\t************************\n'
  printf '\t\tHeaderDigest: %s\n\t\tDataDigest: None\n' "$5"
  printf '\t\tMaxRecvDataSegmentLength: 262144\n\t\tMaxXmitDataSegmentLength: 65536\n'
  printf '\t\tFirstBurstLength: 65536\n\t\tMaxBurstLength: 131072\n'
  printf '\t\tImmediateData: No\n\t\tInitialR2T: Yes\n\t\tMaxOutstandingR2T: 1\n'
  printf '\t\t************************\n\t\tAttached SCSI devices:\n\t\t************************\n'
  printf '\t\tHost Number: %s\tState: running\n\t\tscsi%s Channel 00 Id 0 Lun: 0\n' "$1" "$1"
  printf '\t\t\tAttached scsi disk %s\t\tState: %s\n' "$FUSE/$W" "$(state_of "$1")"
}
{
  echo "Target: $T (non-flash)"
  expect_session 1 127.0.0.1:$P1 1 "$L1" None
  expect_session 2 127.0.0.2:$P2 2 "$L2" CRC32C
} >"$IT_DIR/p3.expected"
check "-P 3: open-iscsi's layout, negotiated values, local address, kura device, active path" \
  diff -u "$IT_DIR/p3.expected" "$IT_DIR/p3.out"
"$CTL" -s "$TSOCK" metrics >"$IT_DIR/metrics0" || die "kura-targetctl metrics failed"
check "the target agrees on the digests (one None, one CRC32C session)" bash -c \
  "grep -c 'header_digest=\"CRC32C\"' '$IT_DIR/metrics0' | grep -qx 1 && grep -c 'header_digest=\"None\"' '$IT_DIR/metrics0' | grep -qx 1"

# ---- kura-multipath -ll / show ----------------------------------------------------
"$MP" -ll >"$IT_DIR/ll.out" 2>&1 || die "-ll failed: $(cat "$IT_DIR/ll.out")"
OTHER=$((3 - ACT))
portal_of() { [ "$1" = 1 ] && echo 127.0.0.1:$P1 || echo 127.0.0.2:$P2; }
{
  echo "$T-lun0 ($W) $FUSE/$W KURA,$(jq_py "print(d['maps'][0]['prod'])" < <(mpj maps))"
  echo "size=32M features='1 queue_if_no_path' hwhandler='1 alua' wp=rw"
  echo "|-+- policy='round-robin 0' prio=50 status=active"
  echo "| \`- $ACT:0:0:0 $(portal_of $ACT) active ready running"
  echo "\`-+- policy='round-robin 0' prio=50 status=enabled"
  echo "  \`- $OTHER:0:0:0 $(portal_of $OTHER) active ready running"
} >"$IT_DIR/ll.expected"
check "-ll: multipath-tools' layout (failover: one group per path, the active one first)" \
  diff -u "$IT_DIR/ll.expected" "$IT_DIR/ll.out"
check "show maps: name sysfs uuid" bash -c "'$MP' show maps | grep -Eq '^$T-lun0 +$FUSE/$W +$W\$'"
check "show paths: two rows, multipathd's columns" bash -c \
  "'$MP' show paths | head -1 | grep -Eq '^hcil +dev +dev_t +pri +dm_st +chk_st +dev_st +next_check' && [ \$('$MP' show paths | grep -c ' active ready  running ') = 2 ]"
check "show maps --json: one map, two paths, 32 MiB" bash -c \
  "'$MP' show maps --json | python3 -c \"import json,sys; d=json.load(sys.stdin); m=d['maps'][0]; sys.exit(0 if len(d['maps'])==1 and m['size_bytes']==33554432 and sum(len(g['paths']) for g in m['path_groups'])==2 else 1)\""

# ---- fail path / reinstate path ----------------------------------------------------------
isid_of() { mpj paths | grep -o "\"isid\":\"[0-9a-f]*\",\"pri\":[0-9]*,\"sid\":$1," | cut -d'"' -f4; }
I_ACT=$(isid_of $ACT); I_OTHER=$(isid_of $OTHER)
log "ISIDs: $I_ACT $I_OTHER; target: $(grep '^kura_session_write_bytes_total' "$IT_DIR/metrics0" | tr '\n' ' ')"
wbytes() { "$CTL" -s "$TSOCK" metrics | awk -v i="isid=\"$1\"" '/^kura_session_write_bytes_total/ && index($0, i) {print $NF}'; }
write4m() { qemu-io -f raw -c "write -P $1 0 4M" "nbd+unix:///?socket=$NBD/$W.sock" >/dev/null; }
OUT=$("$MP" fail path $ACT); rc=$?
check "fail path $ACT: ok, exit 0" [ "$OUT" = ok -a $rc = 0 ]
AS=$(active_sids)
check "show paths: path $ACT failed (checker still ready), path $OTHER active" bash -c \
  "'$MP' show paths | grep -Eq '^$ACT:0:0:0 .* failed +ready ' && [ '$AS' = '$OTHER' ]"
a0=$(wbytes "$I_ACT"); o0=$(wbytes "$I_OTHER")
check "writes continue with path $ACT failed" write4m 0x11
a1=$(wbytes "$I_ACT"); o1=$(wbytes "$I_OTHER")
log "write bytes while failed: path $ACT +$((a1 - a0)), path $OTHER +$((o1 - o0))"
check "failed path carried none of them, the other all" [ $((a1 - a0)) = 0 -a $((o1 - o0)) -ge 4194304 ]
OUT=$("$MP" reinstate path "$ACT:0:0:0"); rc=$?
check "reinstate path $ACT:0:0:0: ok, exit 0" [ "$OUT" = ok -a $rc = 0 ]
check "write after reinstate" write4m 0x22
a2=$(wbytes "$I_ACT"); o2=$(wbytes "$I_OTHER")
log "write bytes after reinstate: path $ACT +$((a2 - a1)), path $OTHER +$((o2 - o1))"
check "reinstated path carries the writes again (failback immediate)" [ $((a2 - a1)) -ge 4194304 -a $((o2 - o1)) = 0 ]
OUT=$("$MP" fail path 99 2>/dev/null); rc=$?
check "fail path 99 (no such path): fail, exit 1" [ "$OUT" = fail -a $rc = 1 ]

# ---- fail queue ----------------------------------------------------------------
"$MP" fail path 127.0.0.1:$P1 >/dev/null && "$MP" fail path 127.0.0.2:$P2 >/dev/null
check "both paths failed: status=disabled groups" bash -c "[ \$('$MP' -ll | grep -c 'status=disabled') = 2 ]"
python3 - "$FUSE/$W" >"$IT_DIR/reader.out" 2>&1 <<'PY' &
import os, sys, time, errno
fd = os.open(sys.argv[1], os.O_RDONLY)
t0 = time.time()
try:
    os.pread(fd, 4096, 8192)
    print("read ok")
except OSError as e:
    print("errno", errno.errorcode.get(e.errno), "after %.1f s" % (time.time() - t0))
PY
RPID=$!
queued() { mpj maps | grep -o '"queued":[0-9]*' | cut -d: -f2; }
check "the read waits in the map's queue" wait_for '[ "$(queued)" -ge 1 ]'
OUT=$("$MP" fail queue "$T-lun0"); rc=$?
check "fail queue $T-lun0: ok, exit 0" [ "$OUT" = ok -a $rc = 0 ]
timeout 10 tail --pid=$RPID -f /dev/null
check "the queued read failed with EIO at once (not after 30 s)" grep -q "errno EIO" "$IT_DIR/reader.out"
log "reader: $(cat "$IT_DIR/reader.out")"
check "-ll: features='0' while the queue fails" bash -c "'$MP' -ll | grep -q \"features='0'\""
"$MP" reinstate path $ACT >/dev/null && "$MP" reinstate path $OTHER >/dev/null
check "paths reinstated: I/O works again" qemu-io -f raw -c "read -P 0x22 0 4M" "nbd+unix:///?socket=$NBD/$W.sock"
OUT=$("$MP" fail queue nosuchmap 2>/dev/null); rc=$?
check "fail queue of an unknown map: fail, exit 1" [ "$OUT" = fail -a $rc = 1 ]

# ---- names go with the LU and come back -----------------------------------
"$ADM" -m node -T $T -p 127.0.0.1:$P1 --logout >/dev/null
check "one path logged out: its by-path names go, the others stay" \
  bash -c "! test -L '$BP1' && ! test -L '$BP1.sock' && test -e '$BP2' && test -e '$DISK/by-id/wwn-$W'"
"$ADM" -m node -T $T -p 127.0.0.2:$P2 --logout >/dev/null
check "last path logged out: no names left" bash -c "[ -z \"\$(ls -A '$DISK/by-id' '$DISK/by-path' | grep -v ':\$' | grep .)\" ]"
"$ADM" -m node -T $T --login >/dev/null 2>&1
check "login again: the same names come back" \
  wait_for "test -e '$DISK/by-id/wwn-$W' && test -S '$DISK/by-id/wwn-$W.sock' && test -e '$BP1' && test -e '$BP2'"
check "the data through the returning by-id name" qemu-io -f raw -c "read -P 0x22 0 4M" \
  "nbd+unix:///?socket=$DISK/by-id/wwn-$W.sock"
check "kura-initiatord alive" kill -0 "$INI_PID"
kill -TERM "$INI_PID"; wait "$INI_PID" 2>/dev/null
check "daemon stopped: its names removed" bash -c "[ -z \"\$(ls -A '$DISK/by-id' '$DISK/by-path' | grep -v ':\$' | grep .)\" ]"
it_finish
