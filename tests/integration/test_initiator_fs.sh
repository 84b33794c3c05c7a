#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kura-initiatord as a host's block layer, end to end: a kura-targetd with
# one-way + mutual CHAP and two portals (127.0.0.1 and 127.0.0.2); the node
# DB (open-iscsi layout) carries the CHAP accounts; the LU is presented as a
# FUSE file, put under a loop device, and a filesystem lives on it:
# mkfs.ext4, mount, write with fsync, fstrim (-> WRITE SAME/UNMAP), umount,
# fsck -n. Also: the control socket (SESSIONS/SESSION/STATUS, LOGOUT, LOGIN
# with a wrong secret -> ERR 24, then the right one), secrets never in the
# log, --pr-key registration (skipped with its reason while the target has
# no persistent reservations), and the ublk front end's detection.
source "$(dirname "$0")/lib.sh"
it_init initiator_fs
INID=${KURA_INITIATORD:-$KURA_BUILD/initiator/kura-initiatord}
[ -x "$INID" ] || skip "kura-initiatord not built ($INID)"
[ "$(id -u)" = 0 ] || skip "needs root (loop devices, FUSE mounts)"
need_cmd losetup mkfs.ext4 fsck.ext4 python3
[ -c /dev/fuse ] || skip "/dev/fuse missing"

INI_PID=""; LOOP=""; MNT=$IT_DIR/lu; FSM=$IT_DIR/fs
fs_cleanup() {
  umount "$FSM" 2>/dev/null
  [ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
  [ -n "$INI_PID" ] && kill -9 "$INI_PID" 2>/dev/null
  umount -l "$MNT" 2>/dev/null
  it_cleanup
}
trap fs_cleanup EXIT

P1=$(free_port 127.0.0.1); P2=$(free_port 127.0.0.2)
SECRET=initiator-secret-4711x
TSECRET=target-secret-0815xyz
cat >"$IT_DIR/kura.conf" <<EOF
[global]
data_dir = $IT_DIR/data
[target $KURA_IQN]
chap = host1:$SECRET
mutual_chap = kura:$TSECRET
[lun 0]
backend = file
path = fs.img
size = 256M
create = yes
thin = yes
block_size = 512
EOF
kura_start -c "$IT_DIR/kura.conf" --listen "127.0.0.1:$P1" --listen "127.0.0.2:$P2"

ROOT=$IT_DIR/iscsi
mkdir -p "$ROOT"
echo "InitiatorName=iqn.2026-11.org.kura:fs-host" >"$ROOT/initiatorname.iscsi"
node_rec() {  # node_rec ROOT ADDR PORT TPGT STARTUP PASSWORD
  local d="$1/nodes/$KURA_IQN/$2,$3,$4"; mkdir -p "$d"
  cat >"$d/default" <<EOF
# BEGIN RECORD 2.1.8
node.name = $KURA_IQN
node.tpgt = $4
node.startup = $5
node.conn[0].address = $2
node.conn[0].port = $3
node.session.auth.authmethod = CHAP
node.session.auth.username = host1
node.session.auth.password = $6
node.session.auth.username_in = kura
node.session.auth.password_in = $TSECRET
# END RECORD
EOF
}
node_rec "$ROOT" 127.0.0.1 "$P1" 1 automatic "$SECRET"
node_rec "$ROOT" 127.0.0.2 "$P2" 2 automatic "$SECRET"
BAD=$IT_DIR/iscsi-bad
node_rec "$BAD" 127.0.0.2 "$P2" 2 manual "wrong-secret-123456"

CTL=$IT_DIR/ctl.sock
ctl() { python3 - "$CTL" "$@" <<'PY'
import socket, sys, urllib.parse
s = socket.socket(socket.AF_UNIX); s.settimeout(20); s.connect(sys.argv[1])
s.sendall((" ".join(urllib.parse.quote(a, safe="") for a in sys.argv[2:]) + "\n").encode())
buf = b""
while True:
    d = s.recv(65536)
    if not d: break
    buf += d
    last = buf.decode().splitlines()[-1] if buf.endswith(b"\n") else ""
    if last == "OK" or last.startswith("ERR"): break
for l in buf.decode().splitlines():
    print(urllib.parse.unquote(l[2:]) if l.startswith("D ") else l)
PY
}
wait_for() { local t=$1 i; shift; for i in $(seq 1 $((t * 10))); do "$@" && return 0; sleep 0.1; done; return 1; }
n_up_is() { [ "$(ctl SESSIONS | grep -c 'state=up')" = "$1" ]; }

PRKEY=0x4b55524131
"$INID" --root "$ROOT" --ctl-sock "$CTL" --fuse-dir "$MNT" --pr-key "$PRKEY" --ublk --retry-max 2 \
  >"$IT_DIR/initiatord.log" 2>&1 &
INI_PID=$!
wait_for 20 test -S "$CTL" || die "no control socket"
check "two CHAP (mutual) paths log in from the node DB" wait_for 20 n_up_is 2
FILE=$(ls "$MNT"/naa.* 2>/dev/null | head -1)
check "FUSE file present" test -n "$FILE"
ctl SESSIONS >"$IT_DIR/sessions.txt"; cat "$IT_DIR/sessions.txt"
check "SESSIONS: device, lu, state, tpgt" grep -q "tpgt=2 iface=default state=up .* lu=naa\..* device=$FILE" "$IT_DIR/sessions.txt"
ctl SESSION 1 >"$IT_DIR/session1.txt"
check "SESSION 1 shows CHAP and the LU details" grep -q "auth=CHAP mutual=yes" "$IT_DIR/session1.txt"
ctl STATUS >"$IT_DIR/status.txt"
check "STATUS reports both paths up" grep -q "paths_up=2" "$IT_DIR/status.txt"

LOOP=$(losetup --direct-io=on -f --show "$FILE") || die "losetup failed"
check "mkfs.ext4 on the loop device" mkfs.ext4 -q -F "$LOOP"
mkdir -p "$FSM"
check "mount" mount "$LOOP" "$FSM"
head -c 32M /dev/urandom >"$IT_DIR/data.bin"
check "write a file with fsync" dd if="$IT_DIR/data.bin" of="$FSM/data.bin" bs=1M conv=fsync status=none
check "fstrim (WRITE SAME with UNMAP through fallocate)" fstrim "$FSM"
sync; echo 3 >/proc/sys/vm/drop_caches
check "read back identical" cmp "$IT_DIR/data.bin" "$FSM/data.bin"
check "umount" umount "$FSM"
check "fsck -n clean" fsck.ext4 -n -f "$LOOP"
losetup -d "$LOOP"; LOOP=""

ctl LOGOUT "$KURA_IQN" 127.0.0.2 "$P2" >"$IT_DIR/logout.txt"
check "LOGOUT a path" grep -q "^OK" "$IT_DIR/logout.txt"
check "one path left" wait_for 10 n_up_is 1
ctl LOGIN "$BAD" "$KURA_IQN" 127.0.0.2 "$P2" 2 default >"$IT_DIR/login-bad.txt"
cat "$IT_DIR/login-bad.txt"
check "LOGIN with a wrong CHAP secret: ERR 24" grep -q "^ERR 24" "$IT_DIR/login-bad.txt"
ctl LOGIN "$ROOT" "$KURA_IQN" 127.0.0.2 "$P2" 2 default >"$IT_DIR/login-ok.txt"
check "LOGIN with the right secret: OK" grep -q "^OK" "$IT_DIR/login-ok.txt"
check "both paths up again" wait_for 10 n_up_is 2
ctl LOGIN "$ROOT" "$KURA_IQN" 127.0.0.2 "$P2" 2 default >"$IT_DIR/login-dup.txt"
check "LOGIN of a logged-in path: ERR 15" grep -q "^ERR 15" "$IT_DIR/login-dup.txt"
check "no secret in the daemon log" bash -c "! grep -qE '$SECRET|$TSECRET|wrong-secret' '$IT_DIR/initiatord.log'"
check "ublk front end: detected and reported" grep -q "ublk:" "$IT_DIR/initiatord.log"

kill -TERM "$INI_PID"
check "SIGTERM: clean exit" wait_for 10 bash -c "! kill -0 $INI_PID 2>/dev/null"
wait "$INI_PID"; rc=$?; INI_PID=""
check "exit status 0 (got $rc)" test "$rc" = 0
check "FUSE mount gone after exit" bash -c "! mountpoint -q '$MNT'"
if grep -q "PR key registered" "$IT_DIR/initiatord.log"; then
  log "PR: key $PRKEY registered on every path"
else
  log "PR: $(grep -m1 'PR REGISTER refused' "$IT_DIR/initiatord.log")"
  log "PR registration not verified: the target refuses PERSISTENT RESERVE OUT (no PR support yet); paths stayed usable"
fi
it_finish
