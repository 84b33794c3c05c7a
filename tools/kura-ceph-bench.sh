#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kura-ceph-bench: one RBD image, two routes, same client, same run:
#   rbd    QEMU's own rbd driver (librbd in the client) straight to Ceph
#   kura   iscsi:// through one kura-targetd gateway exporting that image
#          (backend = rbd)
# with `qemu-img bench -t none` for each case, runs interleaved (rbd, kura,
# rbd, kura...) so machine noise hits both alike; medians of --runs and the
# kura/rbd ratio per case (the goal of issue 13: >= 0.8 for 4 KiB QD32 and
# 128 KiB sequential). Both routes have no client cache (-t none sets
# rbd_cache=false in QEMU; kura always runs librbd without cache).
#
# The cluster: by default a throw-away one on this machine
# (tests/ceph/ceph_lib.sh: 1 monitor, 3 OSDs on sparse files in $TMPDIR,
# pool size 3); or an existing one with --conf/--keyring/--user/--pool (the
# image kura-ceph-bench-<pid> is created there and removed at the end).
#
# usage: tools/kura-ceph-bench.sh [--runs N] [--scale F] [--size MiB]
#          [--cases LIST] [--kura PATH] [--conf F --keyring F --user ID --pool P]
#          [--keep]
#   --cases: comma list of rw4k-qd32,rr4k-qd32,sw128k-qd8,sr128k-qd8
#   --scale: multiply request counts (default 1)
set -euo pipefail

RUNS=3 SCALE=1 SIZE_MB=1024 KEEP=0
CASES=rw4k-qd32,rr4k-qd32,sw128k-qd8,sr128k-qd8
CONF="" KEYRING="" USERID=admin POOL=rbd
SRC=$(cd "$(dirname "$0")/.." && pwd)
source "$SRC/tools/bench_lib.sh"
KURA=${KURA_TARGETD:-$SRC/build/target/kura-targetd}
while [ $# -gt 0 ]; do
  case $1 in
  --runs) RUNS=$2; shift ;;
  --scale) SCALE=$2; shift ;;
  --size) SIZE_MB=$2; shift ;;
  --cases) CASES=$2; shift ;;
  --kura) KURA=$2; shift ;;
  --conf) CONF=$2; shift ;;
  --keyring) KEYRING=$2; shift ;;
  --user) USERID=$2; shift ;;
  --pool) POOL=$2; shift ;;
  --keep) KEEP=1 ;;
  -h|--help) bench_help "$0"; exit 0 ;;
  *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
for c in qemu-img python3 ss rbd bc; do command -v $c >/dev/null || { echo "kura-ceph-bench: $c missing (scripts/install-deps.sh)" >&2; exit 1; }; done
[ -x "$KURA" ] || { echo "kura-ceph-bench: $KURA not built" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kura-ceph-bench.XXXXXX")
KPID="" IMAGE=kura-ceph-bench-$$ IT_PIDS=() CEPH_CONF=""
cleanup() {
  bench_cleanup_kura_keep_work
  if [ -n "${CEPH_OWN:-}" ]; then ceph_stop >/dev/null
  elif [ -n "$CEPH_CONF" ]; then rbd_cli rm --no-progress "$POOL/$IMAGE" >/dev/null 2>&1 || true; fi
  [ "$KEEP" = 1 ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
bench_cleanup_kura_keep_work() { if [ -n "$KPID" ]; then reap "$KPID"; KPID=""; fi; }
trap cleanup EXIT

source "$SRC/tests/ceph/ceph_lib.sh"
if [ -z "$CONF" ]; then
  ceph_need
  CEPH_OWN=1
  ceph_start "$WORK/ceph" >&2
  ceph_pool_create "$POOL"
else
  CEPH_CONF=$CONF CEPH_KEYRING=${KEYRING:-} CEPH_USER=$USERID
fi
rbd_cli create --size "${SIZE_MB}M" --image-feature layering "$POOL/$IMAGE" >/dev/null

P=$(free_port)
IQN=iqn.2026-12.org.kura:ceph-bench
{
  printf '[global]\ndata_dir = %s\nlog_level = warn\n\n' "$WORK/data"
  bench_limits
  printf '\n[target %s]\n[lun 0]\nbackend = rbd\nrbd_pool = %s\nrbd_image = %s\nrbd_conf = %s\nrbd_user = %s\n' \
    "$IQN" "$POOL" "$IMAGE" "$CEPH_CONF" "$CEPH_USER"
  [ -n "$CEPH_KEYRING" ] && printf 'rbd_keyring = %s\n' "$CEPH_KEYRING"
} >"$WORK/kura.conf"
mkdir -p "$WORK/data"
"$KURA" --foreground -c "$WORK/kura.conf" --listen 127.0.0.1:$P >"$WORK/kura.log" 2>&1 &
KPID=$!
wait_port "$P" || { echo "kura-targetd did not start:" >&2; tail "$WORK/kura.log" >&2; exit 1; }

KURL=iscsi://127.0.0.1:$P/$IQN/0
RURL="rbd:$POOL/$IMAGE:conf=$CEPH_CONF:id=$CEPH_USER${CEPH_KEYRING:+:keyring=$CEPH_KEYRING}"
# Fill the image once (through librbd) so reads hit allocated objects.
qemu-img bench -f raw -t none -w -c $((SIZE_MB / 4)) -d 8 -s 4M "$RURL" >/dev/null

# case -> "count depth size step write"
case_args() {
  local n
  case $1 in
  rw4k-qd32) n=20000; echo "$(echo "$n * $SCALE / 1" | bc) 32 4096 1000003 -w" ;;
  rr4k-qd32) n=20000; echo "$(echo "$n * $SCALE / 1" | bc) 32 4096 1000003" ;;
  sw128k-qd8) n=3000; echo "$(echo "$n * $SCALE / 1" | bc) 8 131072 131072 -w" ;;
  sr128k-qd8) n=3000; echo "$(echo "$n * $SCALE / 1" | bc) 8 131072 131072" ;;
  *) echo "unknown case $1" >&2; exit 2 ;;
  esac
}
# run URL CASE: prints IOPS.
run() {
  local c d s st w t0 t1
  read -r c d s st w <<<"$(case_args "$2")"
  t0=$(date +%s.%N)
  qemu-img bench -f raw -t none $w -c "$c" -d "$d" -s "$s" -S "$st" "$1" >/dev/null 2>"$WORK/err" ||
    { cat "$WORK/err" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$c / ($t1 - $t0)" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-12s %12s %12s %10s %10s %8s\n' case "rbd IOPS" "kura IOPS" "rbd MiB/s" "kura MiB/s" kura/rbd
IFS=, read -ra CL <<<"$CASES"
for cs in "${CL[@]}"; do
  ri=() ki=()
  for i in $(seq 1 "$RUNS"); do
    ri+=("$(run "$RURL" "$cs")")
    ki+=("$(run "$KURL" "$cs")")
  done
  r=$(printf '%s\n' "${ri[@]}" | median)
  k=$(printf '%s\n' "${ki[@]}" | median)
  read -r _ _ s _ <<<"$(case_args "$cs")"
  printf '%-12s %12.0f %12.0f %10.1f %10.1f %8.2f\n' "$cs" "$r" "$k" \
    "$(echo "$r * $s / 1048576" | bc -l)" "$(echo "$k * $s / 1048576" | bc -l)" "$(echo "$k / $r" | bc -l)"
done
