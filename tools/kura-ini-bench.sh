#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kura-ini-bench.sh: overhead of kura-initiatord's front ends. Starts a
# kura-targetd on loopback with a tmpfs-backed LUN and two portals, a
# kura-initiatord presenting the LU as FUSE file (+ loop device) and NBD
# socket, and runs the same `qemu-img bench` (4K QD32 reads and writes with a
# 2039-block stride, 128K sequential reads and writes) against
#   iscsi://   (QEMU's libiscsi straight to the target: the reference)
#   nbd+unix:// (the NBD front end)
#   /dev/loopN  (loop device over the FUSE file, O_DIRECT)
# printing IOPS, MiB/s and the ratio to the reference.
#
#   tools/kura-ini-bench.sh [BUILD_DIR]
#   env: COUNT, DEPTH, BS (the 4K case: requests per run, queue depth, block
#   size), SEQ_COUNT, SEQ_DEPTH (the 128K sequential case; SEQ= skips it),
#   RUNS (rounds; the targets take turns in each, medians over rounds)
# Needs root (FUSE mount, loop device), qemu-img. Not a test: numbers only.
set -u
B=${1:-$(dirname "$0")/../build}
TGT=$B/target/kura-targetd; INI=$B/initiator/kura-initiatord
COUNT=${COUNT:-40000}; DEPTH=${DEPTH:-32}; BS=${BS:-4096}; RUNS=${RUNS:-3}
SEQ=${SEQ-1}; SEQ_DEPTH=${SEQ_DEPTH:-8}; SEQ_COUNT=${SEQ_COUNT:-4000}
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

# run URL COUNT BS DEPTH STEP [-w]: IOPS of one qemu-img bench run (empty on failure)
run() {
  local url=$1 count=$2 bs=$3 depth=$4 step=$5; shift 5
  local t
  t=$(qemu-img bench -f raw -t none -n -c "$count" -d "$depth" -s "$bs" -S "$step" "$@" "$url" 2>&1 |
      sed -n 's/.*Run completed in \([0-9.]*\) seconds.*/\1/p')
  [ -n "$t" ] && awk -v c="$count" -v t="$t" 'BEGIN { printf "%d", c / t }'
}
median() { sort -n | awk '{a[NR]=$1} END { print a[int((NR+1)/2)] + 0 }'; }

# Cases: NAME COUNT BS DEPTH STEP MODE. 4K: QD32 with a 2039-block stride (no two
# requests of a run share a block); 128K: sequential (step = block size).
cases() {
  echo "4k-qd32 $COUNT $BS $DEPTH $((2039 * BS)) read"
  echo "4k-qd32 $COUNT $BS $DEPTH $((2039 * BS)) write"
  [ -n "$SEQ" ] || return 0
  echo "128k-seq $SEQ_COUNT 131072 $SEQ_DEPTH 131072 read"
  echo "128k-seq $SEQ_COUNT 131072 $SEQ_DEPTH 131072 write"
}
URLS=("iscsi://127.0.0.1:$P/$IQN/0" "nbd+unix:///?socket=$SOCK" "$LOOP")
NAMES=(iscsi nbd loop)
printf '%-9s %-10s %-6s %10s %10s %8s\n' case target mode IOPS MiB/s ratio
while read -r name count bs depth step mode; do
  w=(); [ "$mode" = write ] && w=(-w)
  # The targets take turns inside each round, so a burst of load on this
  # (shared) machine hits all of them alike; medians over the rounds.
  vals=("" "" "")
  for r in $(seq 1 "$RUNS"); do
    for i in 0 1 2; do
      vals[$i]+="$(run "${URLS[$i]}" "$count" "$bs" "$depth" "$step" "${w[@]}") "
    done
  done
  ref=$(echo "${vals[0]}" | tr ' ' '\n' | grep . | median)
  for i in 0 1 2; do
    v=$(echo "${vals[$i]}" | tr ' ' '\n' | grep . | median)
    awk -v c="$name" -v t="${NAMES[$i]}" -v m="$mode" -v v="$v" -v r="$ref" -v bs="$bs" \
      'BEGIN { printf "%-9s %-10s %-6s %10d %10.1f %8.2f\n", c, t, m, v, v * bs / 1048576, (r ? v / r : 0) }'
  done
done < <(cases)
echo "(qemu-img bench; 4K: -c $COUNT -d $DEPTH -s $BS; 128K sequential: -c $SEQ_COUNT -d $SEQ_DEPTH; median of $RUNS interleaved rounds)"
