#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kura-ini-bench.sh: overhead of kura-initiatord's front ends. Starts a
# kura-targetd on loopback with a tmpfs-backed LUN and two portals, a
# kura-initiatord presenting the LU as FUSE file (+ loop device) and NBD
# socket, and runs the same `qemu-img bench` against
#   iscsi://   (QEMU's libiscsi straight to the target: the reference)
#   nbd+unix:// (the NBD front end)
#   /dev/loopN  (loop device over the FUSE file, O_DIRECT)
# printing IOPS, MiB/s and the ratio to the reference.
#
#   tools/kura-ini-bench.sh [BUILD_DIR]   (env: COUNT, DEPTH, BS, RUNS)
# Needs root (FUSE mount, loop device), qemu-img. Not a test: numbers only.
set -u
B=${1:-$(dirname "$0")/../build}
TGT=$B/target/kura-targetd; INI=$B/initiator/kura-initiatord
COUNT=${COUNT:-40000}; DEPTH=${DEPTH:-32}; BS=${BS:-4096}; RUNS=${RUNS:-3}
IQN=iqn.2026-11.org.kura:bench
[ -x "$TGT" ] && [ -x "$INI" ] || { echo "build $B first"; exit 2; }
command -v qemu-img >/dev/null || { echo "qemu-img missing"; exit 2; }
D=$(mktemp -d /dev/shm/kura-bench.XXXXXX)
P=$((21000 + RANDOM % 20000))
LOOP=""; TP=""; IP=""
cleanup() {
  [ -n "$LOOP" ] && losetup -d "$LOOP"
  [ -n "$IP" ] && kill "$IP" && wait "$IP"
  [ -n "$TP" ] && kill "$TP" && wait "$TP"
  umount -l "$D/lu" 2>/dev/null; rm -rf "$D"
}
trap cleanup EXIT
printf '[global]\ndata_dir = %s\n[target %s]\n[lun 0]\nbackend = file\npath = b.img\nsize = 1G\ncreate = yes\n' "$D" "$IQN" >"$D/t.conf"
"$TGT" -c "$D/t.conf" --foreground --listen 127.0.0.1:$P --listen 127.0.0.2:$P --data-dir "$D" >"$D/t.log" 2>&1 &
TP=$!
sleep 1
"$INI" --root "$D/none" --ctl-sock "$D/ctl.sock" --fuse-dir "$D/lu" --nbd-dir "$D/nbd" \
  --login "127.0.0.1:$P,$IQN" --login "127.0.0.2:$P,$IQN" >"$D/i.log" 2>&1 &
IP=$!
for i in $(seq 1 50); do ls "$D"/nbd/naa.*.sock >/dev/null 2>&1 && break; sleep 0.1; done
FILE=$(ls "$D"/lu/naa.* | head -1); SOCK=$(ls "$D"/nbd/naa.*.sock | head -1)
LOOP=$(losetup --direct-io=on -f --show "$FILE")

# bench URL [-w]: median IOPS of RUNS runs
bench() {
  local url=$1; shift
  local r t vals=()
  for r in $(seq 1 "$RUNS"); do
    t=$(qemu-img bench -f raw -t none -n -c "$COUNT" -d "$DEPTH" -s "$BS" -S $((2039 * BS)) "$@" "$url" 2>&1 |
        sed -n 's/.*Run completed in \([0-9.]*\) seconds.*/\1/p')
    [ -n "$t" ] && vals+=("$(awk -v c="$COUNT" -v t="$t" 'BEGIN { printf "%d", c / t }')")
  done
  printf '%s\n' "${vals[@]}" | sort -n | awk '{a[NR]=$1} END { print a[int((NR+1)/2)] + 0 }'
}
printf '%-10s %-6s %10s %10s %8s\n' target mode IOPS MiB/s ratio
for mode in read write; do
  w=(); [ $mode = write ] && w=(-w)
  ref=$(bench "iscsi://127.0.0.1:$P/$IQN/0" "${w[@]}")
  for t in iscsi nbd loop; do
    case $t in
      iscsi) v=$ref ;;
      nbd) v=$(bench "nbd+unix:///?socket=$SOCK" "${w[@]}") ;;
      loop) v=$(bench "$LOOP" "${w[@]}") ;;
    esac
    awk -v t=$t -v m=$mode -v v="$v" -v r="$ref" -v bs="$BS" \
      'BEGIN { printf "%-10s %-6s %10d %10.1f %8.2f\n", t, m, v, v * bs / 1048576, (r ? v / r : 0) }'
  done
done
echo "(qemu-img bench -c $COUNT -d $DEPTH -s $BS, median of $RUNS; failover times: tests/integration/test_multipath_failover.sh)"
