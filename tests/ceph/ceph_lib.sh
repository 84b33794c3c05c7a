# SPDX-License-Identifier: Apache-2.0
# A throw-away single-machine Ceph cluster for kura's tests (sourced, bash).
#
#   source tests/integration/lib.sh; it_init NAME     # or set CEPH_DIR yourself
#   source tests/ceph/ceph_lib.sh
#   ceph_need                   # exit 77 with the reason if Ceph is not installed
#   ceph_start                  # 1 monitor + 3 bluestore OSDs on sparse files
#   ceph_pool_create rbd        # replicated, size 3, min_size 2, application rbd
#   ceph_image_create rbd disk0 64M [FEATURES]
#   ... "$CEPH_CONF" "$CEPH_KEYRING" "$CEPH_USER" for kura's rbd_conf/rbd_keyring/rbd_user
#   ceph_osd_kill 1; ceph_osd_wait_down 1; ceph_osd_start 1; ceph_osd_wait_up 1
#   ceph_stop                   # OSDs first, then the monitor (the EXIT trap kills
#                               # whatever is left: its pids are in IT_PIDS)
#
# What it is: one monitor (monmap built with monmaptool, `ceph-mon --mkfs`),
# OSDs on 4 GiB sparse files (bluestore straight on a file), cephx with a
# client.admin key, messenger v2 only, bound to 127.0.0.1, every path (data,
# run dir, admin sockets, logs) under $CEPH_DIR; nothing reads /etc/ceph or
# /var/lib/ceph. No manager (librbd and the rbd CLI do not need one, so PG
# statistics stay "unknown": wait for OSDs, not for PG states). Settings for
# speed on one host: bdev aio poll, a short paxos interval, failure domain =
# OSD and one reporter suffices (a killed OSD is marked down in < 1 s).
# Measured here: up in ~5 s, down in ~1 s (docs/ceph.md, PLATFORM facts).
#
# Not for: anything about kura itself (tests/ceph/test_*.sh do that).

CEPH_PKGS=(ceph-mon ceph-osd ceph-common)
CEPH_USER=admin
CEPH_NOSD=${CEPH_NOSD:-3}
CEPH_OSD_SIZE=${CEPH_OSD_SIZE:-4G}
CEPH_DIR=${CEPH_DIR:-}
CEPH_CONF=""
CEPH_KEYRING=""
CEPH_MON_PID=""
declare -A CEPH_OSD_PIDS=()

_ceph_log() { if declare -F log >/dev/null; then log "$@"; else echo "[ceph $(date +%T)] $*"; fi; }
_ceph_die() {
  _ceph_log "ceph: $*"
  local f
  for f in "$CEPH_DIR"/log/*.log; do
    [ -f "$f" ] && { echo "---- last 15 lines of $f ----"; tail -n 15 "$f"; }
  done
  if declare -F die >/dev/null; then die "$*"; else echo "FAIL: $*"; exit 1; fi
}
_ceph_skip() { echo "SKIP: $*"; exit 77; }

# ceph_need: exit 77 (with the reason) unless the Ceph daemons and CLI are installed.
ceph_need() {
  local p st
  for p in "${CEPH_PKGS[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
    [ "$st" = "install ok installed" ] || _ceph_skip "$p not installed (scripts/install-deps.sh)"
  done
  for p in ceph-mon ceph-osd ceph monmaptool ceph-authtool rbd uuidgen; do
    command -v "$p" >/dev/null 2>&1 || _ceph_skip "$p not found in PATH"
  done
}

# ceph CLI / rbd CLI bound to this cluster.
ceph_cli() { timeout 60 ceph --conf "$CEPH_CONF" --keyring "$CEPH_KEYRING" --id "$CEPH_USER" "$@"; }
rbd_cli() { timeout 120 rbd --conf "$CEPH_CONF" --keyring "$CEPH_KEYRING" --id "$CEPH_USER" "$@"; }

_ceph_write_conf() {
  local fsid=$1 port=$2
  cat >"$CEPH_CONF" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$port
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind msgr2 = true
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $CEPH_KEYRING
run dir = $CEPH_DIR/run
log file = $CEPH_DIR/log/\$name.log
log to stderr = false
err to stderr = false
mon cluster log file = $CEPH_DIR/log/cluster.log
osd pool default size = 3
osd pool default min size = 2
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon osd reporter subtree level = osd
mon osd min down reporters = 1
mon allow pool delete = true
mon warn on pool no redundancy = false
paxos propose interval = 0.1
osd objectstore = bluestore
osd pool default pg autoscale mode = off

[mon]
mon data = $CEPH_DIR/mon.\$id
admin socket = $CEPH_DIR/run/\$name.asok

[osd]
osd data = $CEPH_DIR/osd.\$id
admin socket = $CEPH_DIR/run/\$name.asok
keyring = $CEPH_DIR/osd.\$id/keyring
bluestore block create = true
bluestore block size = $(numfmt --from=iec "$CEPH_OSD_SIZE")
bluestore block db create = false
bluestore block wal create = false
bluestore fsck on mount = false
bdev aio poll ms = 50
osd memory target = 939524096
osd max object name len = 256
osd max object namespace len = 64
EOF
}

_ceph_mon_mkfs() {
  local fsid=$1 port=$2 k=$CEPH_DIR/mon.keyring
  ceph-authtool --create-keyring "$k" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$CEPH_KEYRING" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$k" --import-keyring "$CEPH_KEYRING" >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$port]" "$CEPH_DIR/monmap" >/dev/null
  ceph-mon --conf "$CEPH_CONF" --mkfs -i a --monmap "$CEPH_DIR/monmap" --keyring "$k" \
    >"$CEPH_DIR/log/mkfs-mon.out" 2>&1 || _ceph_die "ceph-mon --mkfs failed"
}

_ceph_mon_run() {
  ceph-mon --conf "$CEPH_CONF" -i a -f >>"$CEPH_DIR/log/mon.a.out" 2>&1 &
  CEPH_MON_PID=$!
  IT_PIDS+=("$CEPH_MON_PID")
  local i
  for i in $(seq 1 100); do
    ceph_cli mon stat >/dev/null 2>&1 && return 0
    kill -0 "$CEPH_MON_PID" 2>/dev/null || _ceph_die "ceph-mon exited during start-up"
    sleep 0.2
  done
  _ceph_die "the monitor did not answer in 20 s"
}

# _ceph_osd_mkfs N: register OSD N with the monitor (its own cephx key) and format it.
_ceph_osd_mkfs() {
  local id=$1 d=$CEPH_DIR/osd.$1 uuid key
  uuid=$(uuidgen)
  key=$(ceph-authtool --gen-print-key)
  mkdir -p "$d"
  printf '{"cephx_secret": "%s"}\n' "$key" >"$d/secret.json"
  ceph_cli osd new "$uuid" "$id" -i "$d/secret.json" >/dev/null || _ceph_die "ceph osd new $id failed"
  ceph-authtool --create-keyring "$d/keyring" --name "osd.$id" --add-key "$key" >/dev/null
  ceph-osd --conf "$CEPH_CONF" -i "$id" --mkfs --osd-uuid "$uuid" \
    >"$CEPH_DIR/log/mkfs-osd.$id.out" 2>&1 || _ceph_die "ceph-osd --mkfs $id failed"
}

# ceph_osd_start N: run OSD N (already formatted) in the background.
ceph_osd_start() {
  local id=$1
  ceph-osd --conf "$CEPH_CONF" -i "$id" -f >>"$CEPH_DIR/log/osd.$id.out" 2>&1 &
  CEPH_OSD_PIDS[$id]=$!
  IT_PIDS+=("$!")
}

# ceph_osd_kill N [SIGNAL]: kill OSD N's process (default SIGKILL) and reap it.
ceph_osd_kill() {
  local id=$1 sig=${2:-KILL} pid=${CEPH_OSD_PIDS[$1]:-}
  [ -n "$pid" ] || return 0
  kill "-$sig" "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  CEPH_OSD_PIDS[$id]=""
}

# ceph_osds_up: how many OSDs the monitor counts up.
ceph_osds_up() { ceph_cli osd dump -f json 2>/dev/null | python3 -c '
import json, sys
print(sum(1 for o in json.load(sys.stdin)["osds"] if o["up"]))'; }

_ceph_osd_state() { ceph_cli osd dump -f json 2>/dev/null | python3 -c '
import json, sys
for o in json.load(sys.stdin)["osds"]:
    if o["osd"] == int(sys.argv[1]): print("up" if o["up"] else "down")' "$1"; }

# ceph_osd_wait_up N / ceph_osd_wait_down N [SECONDS]: until the monitor marks it so.
ceph_osd_wait_up() { _ceph_osd_wait "$1" up "${2:-60}"; }
ceph_osd_wait_down() { _ceph_osd_wait "$1" down "${2:-60}"; }
_ceph_osd_wait() {
  local i
  for i in $(seq 1 $(($3 * 5))); do
    [ "$(_ceph_osd_state "$1")" = "$2" ] && return 0
    sleep 0.2
  done
  _ceph_log "osd.$1 not $2 after $3 s"
  return 1
}

# ceph_start [DIR]: create and start the cluster under DIR (default $IT_DIR/ceph);
# sets CEPH_DIR, CEPH_CONF, CEPH_KEYRING; returns once every OSD is up.
ceph_start() {
  local t0 fsid port i
  t0=$(date +%s.%N)
  CEPH_DIR=${1:-${CEPH_DIR:-${IT_DIR:?ceph_start: no IT_DIR (call it_init) and no DIR}/ceph}}
  mkdir -p "$CEPH_DIR/run" "$CEPH_DIR/log"
  CEPH_CONF=$CEPH_DIR/ceph.conf
  CEPH_KEYRING=$CEPH_DIR/client.admin.keyring
  fsid=$(uuidgen)
  port=$(free_port) || _ceph_die "no free port for the monitor"
  _ceph_write_conf "$fsid" "$port"
  _ceph_mon_mkfs "$fsid" "$port"
  _ceph_mon_run
  # the OSDs are registered and formatted in parallel (~4 s each here)
  local mk=()
  for i in $(seq 0 $((CEPH_NOSD - 1))); do _ceph_osd_mkfs "$i" & mk+=($!); done
  for i in "${mk[@]}"; do wait "$i" || _ceph_die "an OSD could not be created"; done
  for i in $(seq 0 $((CEPH_NOSD - 1))); do ceph_osd_start "$i"; done
  for i in $(seq 1 300); do
    [ "$(ceph_osds_up)" = "$CEPH_NOSD" ] && break
    sleep 0.2
  done
  [ "$(ceph_osds_up)" = "$CEPH_NOSD" ] || _ceph_die "only $(ceph_osds_up) of $CEPH_NOSD OSDs up after 60 s"
  CEPH_START_S=$(echo "$(date +%s.%N) - $t0" | bc)
  _ceph_log "ceph: 1 mon (127.0.0.1:$port) + $CEPH_NOSD OSDs up in ${CEPH_START_S%???????} s ($CEPH_DIR)"
}

# ceph_pool_create NAME [SIZE]: a replicated pool (default size 3, min_size 2) for RBD.
ceph_pool_create() {
  local size=${2:-3}
  ceph_cli osd pool create "$1" 8 8 replicated >/dev/null 2>&1 || _ceph_die "pool create $1"
  ceph_cli osd pool set "$1" size "$size" --yes-i-really-mean-it >/dev/null 2>&1 || _ceph_die "pool size $1"
  ceph_cli osd pool set "$1" min_size $(( size > 1 ? size - 1 : 1 )) >/dev/null 2>&1 || _ceph_die "pool min_size $1"
  ceph_cli osd pool application enable "$1" rbd >/dev/null 2>&1 || _ceph_die "pool application $1"
}

# ceph_image_create POOL IMAGE SIZE [FEATURES]: an RBD image (default features:
# layering, so a gateway killed with -9 leaves no exclusive lock to wait for).
ceph_image_create() {
  rbd_cli create --size "$3" --image-feature "${4:-layering}" "$1/$2" || _ceph_die "rbd create $1/$2"
}

# ceph_stop: OSDs first (an OSD waits for a missing monitor), then the monitor.
ceph_stop() {
  local id t0
  t0=$(date +%s.%N)
  for id in "${!CEPH_OSD_PIDS[@]}"; do
    [ -n "${CEPH_OSD_PIDS[$id]}" ] && kill -TERM "${CEPH_OSD_PIDS[$id]}" 2>/dev/null
  done
  for id in "${!CEPH_OSD_PIDS[@]}"; do
    [ -n "${CEPH_OSD_PIDS[$id]}" ] && _ceph_reap "${CEPH_OSD_PIDS[$id]}"
    CEPH_OSD_PIDS[$id]=""
  done
  if [ -n "$CEPH_MON_PID" ]; then
    kill -TERM "$CEPH_MON_PID" 2>/dev/null
    _ceph_reap "$CEPH_MON_PID"
    CEPH_MON_PID=""
  fi
  _ceph_log "ceph: stopped in $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-4) s"
}

# _ceph_reap PID: wait up to 10 s for PID to exit after SIGTERM, then SIGKILL.
_ceph_reap() {
  local i
  for i in $(seq 1 100); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$1" 2>/dev/null || true # gone already: fine (callers may run under set -e)
  wait "$1" 2>/dev/null || true
}

# ---- gateways: several kura-targetd exporting the same images -------------
# ceph_gw_conf ID ADDR:PORT IQN IMAGE...: gateway ID's configuration
# (gateway_id = ID, one portal, LUN n = the n-th image of pool
# ${CEPH_GW_POOL:-rbd}), on stdout.
ceph_gw_conf() {
  local id=$1 addr=$2 iqn=$3 lun=0 img
  shift 3
  printf '[global]\ngateway_id = %s\nlog_level = info\n\n[portal a]\naddress = %s\n\n[target %s]\n' \
    "$id" "$addr" "$iqn"
  for img in "$@"; do
    printf '\n[lun %s]\nbackend = rbd\nrbd_pool = %s\nrbd_image = %s\nrbd_conf = %s\nrbd_user = %s\nrbd_keyring = %s\n' \
      "$lun" "${CEPH_GW_POOL:-rbd}" "$img" "$CEPH_CONF" "$CEPH_USER" "$CEPH_KEYRING"
    lun=$((lun + 1))
  done
}

# ceph_gw_start ID CONF ADDR:PORT: run gateway ID (kura-targetd, data dir
# $IT_DIR/gwID, log $IT_DIR/gwID.log) until it listens; its pid in CEPH_GW_PID[ID].
declare -A CEPH_GW_PID=()
ceph_gw_start() {
  local id=$1 conf=$2 a=$3 i
  mkdir -p "$IT_DIR/gw$id"
  echo "==== start $(date +%T)" >>"$IT_DIR/gw$id.log"
  "$KURA_TARGETD" --foreground --data-dir "$IT_DIR/gw$id" -c "$conf" >>"$IT_DIR/gw$id.log" 2>&1 &
  CEPH_GW_PID[$id]=$!
  IT_PIDS+=("$!")
  wait_port "${a%:*}" "${a##*:}" 60 || { tail -n 20 "$IT_DIR/gw$id.log"; _ceph_die "gateway $id did not listen on $a"; }
  for i in $(seq 1 300); do
    grep -q '^portal ' "$IT_DIR/gw$id.log" && return 0
    sleep 0.1
  done
}

# ceph_gw_kill ID: kill -9 gateway ID and reap it.
ceph_gw_kill() {
  local pid=${CEPH_GW_PID[$1]:-}
  [ -n "$pid" ] || return 0
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  CEPH_GW_PID[$1]=""
}

# ---- a QEMU guest (tests/integration/vm/) on a disk URL -----------------------
# ceph_vm_guest: build (or reuse) the tiny guest; sets VM_KERNEL, VM_INITRD.
# Returns 1 with the reason in VM_WHY when it cannot (no QEMU, no packages).
ceph_vm_guest() {
  local g rc
  command -v qemu-system-x86_64 >/dev/null || { VM_WHY="qemu-system-x86_64 not installed"; return 1; }
  g=$("$KURA_SRC/tests/integration/vm/build-guest.sh" 2>"$IT_DIR/build-guest.log"); rc=$?
  [ $rc -eq 0 ] || { VM_WHY="cannot build the guest ($(tail -n 1 "$IT_DIR/build-guest.log"))"; return 1; }
  VM_KERNEL=$(echo "$g" | sed -n 's/^KERNEL=//p')
  VM_INITRD=$(echo "$g" | sed -n 's/^INITRD=//p')
}

# ceph_vm_start DRIVE_URL CONSOLE APPEND [TIMEOUT_S]: boot the guest in the
# background with DRIVE_URL as its virtio disk (werror/rerror=report: a failed
# request reaches the guest as a FAIL line); every console line is stamped
# with the host's clock in ms. Sets VM_PID.
ceph_vm_start() {
  local drive=$1 con=$2 append=$3 t=${4:-300}
  : >"$con"
  timeout "$t" qemu-system-x86_64 -accel tcg -m 256 -nographic -monitor none -nic none -no-reboot \
    -kernel "$VM_KERNEL" -initrd "$VM_INITRD" -append "console=ttyS0 quiet panic=-1 $append" \
    -drive "file=$drive,format=raw,if=none,id=d0,cache=none,werror=report,rerror=report" \
    -device virtio-blk-pci,drive=d0 </dev/null 2>"$IT_DIR/qemu.err" \
    > >(python3 -c '
import sys, time
out = open(sys.argv[1], "a", buffering=1)
for raw in iter(sys.stdin.buffer.readline, b""):
    out.write("%d %s\n" % (time.time() * 1000, raw.decode("utf-8", "replace").rstrip("\r\n")))
' "$con") &
  VM_PID=$!
  IT_PIDS+=("$VM_PID")
}

# ceph_vm_oks CONSOLE: how many "KURA-VM iter N ok" lines so far.
ceph_vm_oks() { grep -c "KURA-VM iter [0-9]* ok" "$1"; }
