#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# HA benchmark of issue 10: kura's host-crash recovery against Debian's
# sanlock, in one run, on LUNs of one kura-targetd on loopback.
#
#   tools/kura-ha-bench.sh [-n TRIALS] [-p PARALLEL] [-s SANLOCK_TRIALS] [--no-sanlock]
#
# kura: TRIALS host crashes (default 10) in PARALLEL (2) two-host clusters
# with the default timings (heartbeat 1 s, fail_after 10 s): kill -9 of the
# VM owner's kura-lockd and QEMU; measured from the victim's last heartbeat
# (its daemon's own log stamp) to (a) the VM's QEMU started on the survivor
# and (b) the restarted guest's first verified write (O_DIRECT + fsync + read
# back, seen on its console; polled every 0.1 s). The procedure is the one of
# tests/cluster/test_i7_host_crash.sh (cl_crash_trials).
# sanlock: SANLOCK_TRIALS (default 3) side by side, each a two-host cluster of
# `sanlock daemon -w 0` with a lockspace and a resource lease on a kura LUN
# presented by kura-initiatord as a loop device (tools/ha_bench_sanlock.sh,
# which needs an LD_PRELOAD setrlimit shim here); measured from the kill to
# the survivor holding the dead host's lease (up to one 20 s renewal period
# in sanlock's favour). Both halves run at the same time.
#
# Prints both distributions and the ratio of the medians. Needs a build
# (KURA_BUILD, default ./build), qemu-system-x86_64, the test guest
# (tests/integration/vm/build-guest.sh), root (loop devices), sanlock, bc.
# Exit 77 with the reason when something is missing.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KURA_SRC=${KURA_SRC:-$(cd "$HERE/.." && pwd)}
KURA_BUILD=${KURA_BUILD:-$KURA_SRC/build}
export KURA_SRC KURA_BUILD
TRIALS=10; PAR=2; SL_TRIALS=3; SANLOCK=1
while [ $# -gt 0 ]; do
  case $1 in
    -n) TRIALS=$2; shift 2 ;;
    -p) PAR=$2; shift 2 ;;
    -s) SL_TRIALS=$2; shift 2 ;;
    --no-sanlock) SANLOCK=0; shift ;;
    -h|--help) sed -n '3,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [-n TRIALS] [-p PARALLEL] [-s SANLOCK_TRIALS] [--no-sanlock]" >&2; exit 1 ;;
  esac
done
source "$HERE/bench_lib.sh"      # first: lib.sh's free_port / wait_port take other arguments
source "$HERE/ha_bench_sanlock.sh"
source "$KURA_SRC/tests/cluster/cluster_lib.sh"
cl_init ha-bench
SL_IQN=iqn.2026-12.org.kura:ha-bench-sanlock
LOOP=""; SL_DIR=$IT_DIR/sanlock
if [ "$SANLOCK" = 1 ]; then
  need_cmd sanlock bc losetup
  [ "$(id -u)" = 0 ] || skip "sanlock half needs root (loop device); use --no-sanlock"
  [ -c /dev/fuse ] || skip "/dev/fuse missing (kura-initiatord's FUSE front end)"
fi
bench_cleanup() {
  ha_sanlock_stop "$SL_DIR" 2>/dev/null
  [ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
  [ -f "$SL_DIR/initiatord.pid" ] && kill -9 "$(cat "$SL_DIR/initiatord.pid")" 2>/dev/null
  umount -l "$SL_DIR/lu" 2>/dev/null
  cl_cleanup
}
trap bench_cleanup EXIT

# ---- one kura-targetd: the kura clusters' LUNs, and the sanlock LUN
CL_PORT=$(free_port)
{
  echo "[global]"; echo "data_dir = $IT_DIR/data"
  echo "[portal p1]"; echo "address = 127.0.0.1:$CL_PORT"
  echo "[target $CL_IQN]"
  for i in $(seq 0 $((2 * PAR - 1))); do
    echo "[lun $i]"; echo "backend = file"; echo "path = k$i.img"; echo "size = 16M"; echo "create = yes"
  done
  echo "[target $SL_IQN]"
  echo "[lun 0]"; echo "backend = file"; echo "path = sanlock.img"
  echo "size = $(( 2 * SL_TRIALS + 2 ))M"; echo "create = yes"
} >"$IT_DIR/kura.conf"
kura_start -c "$IT_DIR/kura.conf" --listen "127.0.0.1:$CL_PORT"

# ---- sanlock half (background)
if [ "$SANLOCK" = 1 ]; then
  mkdir -p "$SL_DIR"
  LOOP=$(ha_present_lun "$SL_DIR" "$KURA_BUILD" "$SL_IQN" "$CL_PORT") || die "cannot present the sanlock LUN"
  log "sanlock: $SL_TRIALS trials on $LOOP (kura LUN through kura-initiatord), started"
  ( ha_sanlock_trials "$SL_DIR" "$LOOP" "$SL_TRIALS" >"$SL_DIR/times" 2>"$SL_DIR/err" ) &
  SL_PID=$!
fi

# ---- kura half
CL_EVERY_WRITE=1
per=$(( (TRIALS + PAR - 1) / PAR ))
pids=()
for k in $(seq 0 $((PAR - 1))); do ( cl_crash_trials "$k" "$per" ) & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || log "a kura sub-cluster failed"; done
cat "$IT_DIR"/c*/times >"$IT_DIR/kura_times" 2>/dev/null
[ "$SANLOCK" = 1 ] && { wait "$SL_PID" || log "sanlock half failed: $(cat "$SL_DIR/err")"; }

# ---- report
dist() { sort -n | awk '{a[NR]=$1} END {if (NR) printf "n %d min %.1f median %.1f p90 %.1f max %.1f s", NR, a[1], a[int((NR+1)/2)], a[int(NR*0.9+0.99)], a[NR]; else printf "no data"}'; }
med() { sort -n | awk '{a[NR]=$1} END {if (NR) printf "%.2f", a[int((NR+1)/2)]}'; }
K_RS=$(awk '$1 < 999999 {print $1 / 1000}' "$IT_DIR/kura_times")
K_FW=$(awk '$2 >= 0 && $2 < 999999 {print $2 / 1000}' "$IT_DIR/kura_times")
echo
echo "== kura-ha-bench $(date -u +%FT%TZ), $(nproc) CPUs, kura $(git -C "$KURA_SRC" rev-parse --short HEAD 2>/dev/null)"
echo "kura   last heartbeat -> VM process on the survivor: $(echo "$K_RS" | dist)"
echo "kura   last heartbeat -> first verified guest write: $(echo "$K_FW" | dist)"
if [ "$SANLOCK" = 1 ]; then
  S=$(grep -E '^[0-9.]+$' "$SL_DIR/times")
  echo "sanlock kill -> survivor holds the lease (-w 0, defaults): $(echo "$S" | dist)"
  if [ -n "$S" ] && [ -n "$K_RS" ]; then
    echo "ratio of medians sanlock / kura: $(echo "$(echo "$S" | med) / $(echo "$K_RS" | med)" | bc -l | xargs printf '%.1f') (VM process)," \
         "$(echo "$(echo "$S" | med) / $(echo "$K_FW" | med)" | bc -l | xargs printf '%.1f') (first guest write)"
  fi
  echo "(sanlock runs with an LD_PRELOAD shim turning setrlimit EPERM into success: this sandbox lacks CAP_SYS_RESOURCE)"
fi
