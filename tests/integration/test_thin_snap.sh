#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Snapshots and clones declared in the config (docs/storage.md): a LUN with
# snapshot_of / clone_of gets its volume created at the first start from the
# origin's contents; the snapshot is read-only (WRITE => DATA PROTECT 27/00),
# the clone writable; origin, snapshot and clone diverge independently and
# keep their contents across a restart (created once, not again).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/thin_lib.sh"
it_init thin_snap
need_cmd qemu-io
CLIENT=$(need_client thin)

P=$(free_port)
IQN=iqn.2026-11.org.kura:thinsnap
conf() {   # conf WITH_COPIES(0|1)
  thin_conf "$IQN" 64M 32M
  [ "$1" = 1 ] && cat >>"$IT_DIR/kura.conf" <<CONF
[lun 1]
backend = thin
pool = p
volume = 2
snapshot_of = 1
[lun 2]
backend = thin
pool = p
volume = 3
clone_of = 1
CONF
}
U0=iscsi://127.0.0.1:$P/$IQN/0
U1=iscsi://127.0.0.1:$P/$IQN/1
U2=iscsi://127.0.0.1:$P/$IQN/2

# qio_ro URL CMDS...: qemu-io read-only (a write-protected LUN refuses a read-write open)
qio_ro() {
  local url=$1 c args=(); shift
  for c in "$@"; do args+=(-c "$c"); done
  out=$(timeout 60 qemu-io -r -f raw "${args[@]}" "$url" 2>&1); local rc=$?
  echo "$out" >>"$IT_DIR/qemu-io.log"
  [ $rc -eq 0 ] && ! grep -qiE "fail|error|mismatch|verification" <<<"$out"
}

conf 0
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "origin: write 1 MiB of 0x11" qio "$U0" "write -P 0x11 0 1M"
check "stop" kura_stop

conf 1
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "snapshot created at first start" grep -q "pool p: volume 2 created (snapshot)" "$IT_DIR/kura.log"
check "clone created at first start" grep -q "pool p: volume 3 created (clone)" "$IT_DIR/kura.log"
check "origin: overwrite 512 KiB with 0x22" qio "$U0" "write -P 0x22 0 512k"
check "snapshot: holds the origin's contents at snapshot time" qio_ro "$U1" "read -P 0x11 0 1M" "read -P 0 1M 1M"
check "clone: holds the origin's contents at clone time" qio "$U2" "read -P 0x11 0 1M"
out=$("$CLIENT" "$U1" write 0 1 0x44 2>&1)
check "snapshot: WRITE answers DATA PROTECT 27/00 ($out)" grep -q "SENSE 7/27/00" <<<"$out"
check "snapshot: qemu-io write fails" bash -c "! qio '$U1' 'write -P 0x44 0 4k' >/dev/null"
check "clone: writable" qio "$U2" "write -P 0x33 0 64k"
check "clone: own data" qio "$U2" "read -P 0x33 0 64k" "read -P 0x11 64k 960k"
check "origin: unaffected by the clone" qio "$U0" "read -P 0x22 0 512k" "read -P 0x11 512k 512k"
check "snapshot: unaffected by both" qio_ro "$U1" "read -P 0x11 0 1M"
check "stop" kura_stop
check "kura-thin-check: no leaks" "$KURA_BUILD/tools/kura-thin-check" "$IT_DIR/data/p.meta" "$IT_DIR/data/p.data"

kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "restart: the snapshot is not created again" test "$(grep -c 'volume 2 created' "$IT_DIR/kura.log")" = 1
check "restart: origin" qio "$U0" "read -P 0x22 0 512k" "read -P 0x11 512k 512k"
check "restart: snapshot" qio_ro "$U1" "read -P 0x11 0 1M"
check "restart: clone" qio "$U2" "read -P 0x33 0 64k" "read -P 0x11 64k 960k"
check "stop" kura_stop
it_finish
