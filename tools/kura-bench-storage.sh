#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kura-bench-storage: what the storage layers cost. One kura-targetd serves
# two LUNs, everything on /dev/shm so the layers, not a disk, are measured:
#   LUN 0  plain file LUN (file backend)
#   LUN 1  thin volume in a pool whose data store is RAID-6 over 6 member files
# and `qemu-img bench -t none` over iscsi:// drives both, interleaved (file,
# thin, file, thin ...), after a prefill so that runs measure steady-state
# overwrites of allocated chunks (the first-touch allocation cost is reported
# separately as "alloc128k": a 128 KiB sequential write pass over a fresh
# volume). Cases: 4 KiB random write QD32 (prime step), 128 KiB sequential
# write and read QD8. Reports medians of --runs runs and thin/file ratios.
# Then the rebuild: the daemon is stopped, one member file deleted, a spare
# declared, and the time to rebuild the missing role is read from the log
# ("raid r6: rebuild of role R done: N MiB in S s (T MiB/s)").
#
# --raid-chunk / --thin-chunk set the array's chunk and the pool's chunk_size
# (defaults: the daemon's, 64K and 64K) to compare layouts. The array's
# stripe-write counters over the whole run (full stripes, reconstruct- and
# read-modify-writes, writes gathered into another's stripe write; logged by
# the daemon at close) are printed too.
#
# usage: tools/kura-bench-storage.sh [--runs N] [--size MiB] [--member MiB] [--raid-chunk SIZE]
#        [--thin-chunk SIZE] [--kura PATH] [--keep]
set -euo pipefail

RUNS=3 SIZE_MB=512 MEMBER_MB=320 KEEP=0 RAID_CHUNK="" THIN_CHUNK=""
SRC=$(cd "$(dirname "$0")/.." && pwd)
source "$SRC/tools/bench_lib.sh"
KURA=${KURA_TARGETD:-$SRC/build/target/kura-targetd}
while [ $# -gt 0 ]; do
  case $1 in
  --runs) RUNS=$2; shift ;;
  --size) SIZE_MB=$2; shift ;;
  --member) MEMBER_MB=$2; shift ;;
  --raid-chunk) RAID_CHUNK=$2; shift ;;
  --thin-chunk) THIN_CHUNK=$2; shift ;;
  --kura) KURA=$2; shift ;;
  --keep) KEEP=1 ;;
  -h|--help) bench_help "$0"; exit 0 ;;
  *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
for c in qemu-img python3 ss; do command -v $c >/dev/null || { echo "kura-bench-storage: $c missing" >&2; exit 1; }; done
[ -x "$KURA" ] || { echo "kura-bench-storage: $KURA not built" >&2; exit 1; }
[ $((MEMBER_MB * 4)) -gt $((SIZE_MB * 2 + 64)) ] || { echo "--member too small for --size" >&2; exit 2; }

WORK=$(mktemp -d /dev/shm/kura-bench-storage.XXXXXX)
KPID=""
cleanup() {
  bench_cleanup_kura
}
trap cleanup EXIT
trap 'exit 130' INT TERM

P=$(free_port)
IQN=iqn.2026-11.org.kura:bench-storage
conf() {   # conf [SPARE]
  cat >"$WORK/kura.conf" <<EOF
[global]
log_level = info
[portal bench]
address = 127.0.0.1:$P
$(bench_limits)
[raid r6]
level = 6
members = m0.img, m1.img, m2.img, m3.img, m4.img, m5.img
member_size = ${MEMBER_MB}M
create = yes
rebuild_rate = 4000M
${RAID_CHUNK:+chunk = $RAID_CHUNK}
${1:+spares = $1}
[pool bench]
data = r6
meta = bench.meta
${THIN_CHUNK:+chunk_size = $THIN_CHUNK}
[target $IQN]
[lun 0]
backend = file
path = plain.img
size = ${SIZE_MB}M
create = yes
[lun 1]
backend = thin
pool = bench
volume = 1
size = ${SIZE_MB}M
[lun 2]
backend = thin
pool = bench
volume = 2
size = ${SIZE_MB}M
EOF
}
start() {
  "$KURA" -c "$WORK/kura.conf" --data-dir "$WORK" --foreground >>"$WORK/kura.log" 2>&1 &
  KPID=$!
  wait_port "$P" || { tail "$WORK/kura.log" >&2; echo "kura-targetd did not start" >&2; exit 1; }
}
stop() { kill -TERM "$KPID"; wait "$KPID" || true; KPID=""; }
conf
start
declare -A URL=([file]=iscsi://127.0.0.1:$P/$IQN/0 [thin]=iscsi://127.0.0.1:$P/$IQN/1)

# bench T RW BS QD STEP COUNT -> seconds
bench() {
  local wflag="" out
  [ "$2" = write ] && wflag=-w
  out=$(qemu-img bench -f raw -t none $wflag -c "$6" -d "$4" -s "$3" -S "$5" "${URL[$1]}" 2>&1)
  sed -n 's/.*Run completed in \([0-9.]*\) seconds.*/\1/p' <<<"$out"
}
RES=$WORK/results.txt
: >"$RES"
# first-touch allocation: one sequential 128 KiB pass over a fresh thin volume (LUN 2) vs the file LUN
n=$((SIZE_MB * 8))
s=$(qemu-img bench -f raw -t none -w -c $n -d 8 -s 131072 -S 131072 "iscsi://127.0.0.1:$P/$IQN/2" 2>&1 | sed -n 's/.*Run completed in \([0-9.]*\) seconds.*/\1/p')
echo "thin alloc128k 1 $s $n 131072" >>"$RES"
for t in file thin; do   # prefill: reads and overwrites never hit holes
  qemu-img bench -f raw -t none -w -c $n -d 8 -s 131072 -S 131072 --pattern=90 "${URL[$t]}" >/dev/null
done
s=$(bench file write 131072 8 131072 $n)
echo "file alloc128k 1 $s $n 131072" >>"$RES"

prime=104729
CASES=("rw4k-qd32 write 4096 32 $((4096 * prime)) 60000"
       "sw128k-qd8 write 131072 8 131072 $n"
       "sr128k-qd8 read 131072 8 131072 $n")
for r in $(seq 1 "$RUNS"); do
  for c in "${CASES[@]}"; do
    read -r name rw bs qd step count <<<"$c"
    for t in file thin; do
      s=$(bench $t $rw $bs $qd $step $count)
      echo "$t $name $r $s $count $bs" >>"$RES"
      echo "run $r $name $t: $s s" >&2
    done
  done
done
stop
STRIPES=$(grep "raid: stripe writes" "$WORK/kura.log" | tail -1 | sed 's/.*raid: //' || true)

# rebuild: one member gone, a spare declared
rm -f "$WORK/m3.img"
conf "s0.img"
start
for i in $(seq 1 600); do
  grep -q "rebuild of role .* done" "$WORK/kura.log" && break
  sleep 0.2
done
REB=$(grep "rebuild of role .* done" "$WORK/kura.log" | tail -1 | sed 's/.*: rebuild/rebuild/')
stop

python3 - "$RES" "$REB" "$RUNS" "$SIZE_MB" "$MEMBER_MB" "${RAID_CHUNK:-64K}" "${THIN_CHUNK:-64K}" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
reb, runs, size, member = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
res = {}
for t, name, r, secs, count, bs in rows:
    s = float(secs); n = int(count); b = int(bs)
    res.setdefault((name, t), []).append((n / s, n * b / s / 1048576))
print("kura storage layers: file LUN vs thin volume on RAID-6 (6 members), /dev/shm, %s MiB LUNs, %s MiB members, raid chunk %s, thin chunk %s" % (size, member, sys.argv[6], sys.argv[7]))
print("medians of %s runs (alloc128k: one pass); qemu-img bench -t none over iscsi://127.0.0.1" % runs)
print("%-11s %12s %10s %12s %10s %8s" % ("case", "file IOPS", "file MiB/s", "thin IOPS", "thin MiB/s", "thin/file"))
for name in ("rw4k-qd32", "sw128k-qd8", "sr128k-qd8", "alloc128k"):
    f = res.get((name, "file")); t = res.get((name, "thin"))
    if not f or not t: continue
    fi, fm = st.median(x[0] for x in f), st.median(x[1] for x in f)
    ti, tm = st.median(x[0] for x in t), st.median(x[1] for x in t)
    print("%-11s %12.0f %10.1f %12.0f %10.1f %8.2f" % (name, fi, fm, ti, tm, ti / fi))
print(reb or "rebuild: not observed")
PY
if [ -n "$STRIPES" ]; then echo "$STRIPES"; fi
