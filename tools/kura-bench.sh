#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kura-bench: kura-targetd and tgt side by side, same machine, same client.
#
# Starts kura-targetd (memory LUN, or a file LUN on /dev/shm) and a private tgtd
# (aio backing store over a file on /dev/shm, 256 KiB data segments, 1 MiB
# bursts, InitialR2T=No, as kura offers), both on 127.0.0.1 random ports, and
# drives both with `qemu-img bench -t none` over iscsi:// for each case, runs
# interleaved (kura, tgt, kura, tgt...) so machine noise hits both alike.
# Random I/O = a large prime step (-S) over the LUN (qemu-img bench has no
# random offsets). Per run: IOPS, MiB/s, mean latency (Little's law: QD/IOPS;
# qemu-img bench does not time single requests), target CPU seconds
# (utime+stime of the daemon from /proc/PID/stat, all threads) and IOPS per
# target core (ops / target CPU seconds). Reports medians and kura/tgt ratios.
#
# usage: tools/kura-bench.sh [--runs N] [--scale F] [--json] [--only kura|tgt]
#          [--backend memory|file] [--size MiB] [--cases LIST] [--kura PATH]
#          [--workers N] [--pin] [--keep]
#   --cases: comma list of rr4k-qd1,rr4k-qd32,rw4k-qd32,sr128k-qd8,sw128k-qd8,sr1m-qd4
#   --scale: multiply request counts (default 1: each run takes ~1-4 s)
#   --pin:   target on CPU 1, client on CPU 0 (taskset)
set -euo pipefail

RUNS=3 SCALE=1 JSON=0 ONLY=both BACKEND=memory SIZE_MB=1024 WORKERS=0 PIN=0 KEEP=0
CASES=rr4k-qd1,rr4k-qd32,rw4k-qd32,sr128k-qd8,sw128k-qd8,sr1m-qd4
SRC=$(cd "$(dirname "$0")/.." && pwd)
source "$SRC/tools/bench_lib.sh"
KURA=${KURA_TARGETD:-$SRC/build/target/kura-targetd}
while [ $# -gt 0 ]; do
  case $1 in
  --runs) RUNS=$2; shift ;;
  --scale) SCALE=$2; shift ;;
  --json) JSON=1 ;;
  --only) ONLY=$2; shift ;;
  --backend) BACKEND=$2; shift ;;
  --size) SIZE_MB=$2; shift ;;
  --cases) CASES=$2; shift ;;
  --kura) KURA=$2; shift ;;
  --workers) WORKERS=$2; shift ;;
  --pin) PIN=1 ;;
  --keep) KEEP=1 ;;
  -h|--help) bench_help "$0"; exit 0 ;;
  *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
for c in qemu-img python3 ss; do command -v $c >/dev/null || { echo "kura-bench: $c missing (scripts/install-deps.sh)" >&2; exit 1; }; done
if [ "$ONLY" != kura ]; then command -v tgtd >/dev/null && command -v tgtadm >/dev/null || { echo "kura-bench: tgt missing" >&2; exit 1; }; fi
if [ "$ONLY" != tgt ] && [ ! -x "$KURA" ]; then echo "kura-bench: $KURA not built" >&2; exit 1; fi

WORK=$(mktemp -d /dev/shm/kura-bench.XXXXXX)
KPID="" TPID="" TCTL=""
msg() { [ "$JSON" = 1 ] && echo "$*" >&2 || echo "$*"; }
cleanup() {
  if [ -n "$TPID" ]; then
    tgtadm -C "$TCTL" --op delete --mode target --tid 1 --force >/dev/null 2>&1 || true
    tgtadm -C "$TCTL" --op delete --mode system >/dev/null 2>&1 || true
    sleep 0.2; kill -9 "$TPID" 2>/dev/null || true; wait "$TPID" 2>/dev/null || true
  fi
  bench_cleanup_kura
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)
TASKSET_T="" TASKSET_C=""
if [ "$PIN" = 1 ]; then TASKSET_T="taskset -c 1"; TASKSET_C="taskset -c 0"; fi

declare -A URL PID
IQN=iqn.2026-11.org.kura:bench
if [ "$ONLY" != tgt ]; then
  KP=$(free_port)
  if [ "$BACKEND" = memory ]; then
    LUNCONF="backend = memory
size = ${SIZE_MB}M"
  else
    LUNCONF="backend = file
path = $WORK/kura.img
size = ${SIZE_MB}M
create = yes"
  fi
  cat >"$WORK/kura.conf" <<EOF
[global]
log_level = warn
workers = $WORKERS

[portal bench]
address = 127.0.0.1:$KP

$(bench_limits)

[target $IQN]

[lun 0]
$LUNCONF
block_size = 512
EOF
  chmod 600 "$WORK/kura.conf"
  $TASKSET_T "$KURA" -c "$WORK/kura.conf" --data-dir "$WORK" --foreground >"$WORK/kura.log" 2>&1 &
  KPID=$!
  wait_port "$KP" || { cat "$WORK/kura.log" >&2; echo "kura-targetd did not start" >&2; exit 1; }
  URL[kura]=iscsi://127.0.0.1:$KP/$IQN/0; PID[kura]=$KPID
fi
if [ "$ONLY" != kura ]; then
  TP=$(free_port); TCTL=$(( (RANDOM % 30000) + 1000 ))
  truncate -s "${SIZE_MB}M" "$WORK/tgt.img"
  $TASKSET_T tgtd -f -C "$TCTL" --iscsi portal=127.0.0.1:$TP >"$WORK/tgtd.log" 2>&1 &
  TPID=$!
  wait_port "$TP" || { cat "$WORK/tgtd.log" >&2; echo "tgtd did not start" >&2; exit 1; }
  tgtadm -C "$TCTL" --lld iscsi --op new --mode target --tid 1 -T "$IQN"
  tgtadm -C "$TCTL" --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b "$WORK/tgt.img" --bstype aio
  tgtadm -C "$TCTL" --lld iscsi --op bind --mode target --tid 1 -I ALL
  for kv in MaxRecvDataSegmentLength=262144 MaxBurstLength=1048576 FirstBurstLength=262144 InitialR2T=No ImmediateData=Yes; do
    tgtadm -C "$TCTL" --lld iscsi --op update --mode target --tid 1 -n "${kv%=*}" -v "${kv#*=}"
  done
  URL[tgt]=iscsi://127.0.0.1:$TP/$IQN/1; PID[tgt]=$TPID
fi
TARGETS=()
[ "$ONLY" != tgt ] && TARGETS+=(kura)
[ "$ONLY" != kura ] && TARGETS+=(tgt)

# prefill both LUNs with data so reads never hit holes
for t in "${TARGETS[@]}"; do
  qemu-img bench -f raw -t none -w -c $((SIZE_MB)) -d 4 -s 1048576 -S 1048576 --pattern=90 "${URL[$t]}" >/dev/null
done

# case: name rw bs qd step count
case_def() {
  local blocks4k=$((SIZE_MB * 256)) prime=104729
  case $1 in
  rr4k-qd1)   echo "read 4096 1 $((4096 * prime)) 40000" ;;
  rr4k-qd32)  echo "read 4096 32 $((4096 * prime)) 200000" ;;
  rw4k-qd32)  echo "write 4096 32 $((4096 * prime)) 150000" ;;
  sr128k-qd8) echo "read 131072 8 131072 40000" ;;
  sw128k-qd8) echo "write 131072 8 131072 25000" ;;
  sr1m-qd4)   echo "read 1048576 4 1048576 6000" ;;
  *) echo "unknown case $1" >&2; return 1 ;;
  esac
}

RES=$WORK/results.tsv
: >"$RES"
msg "kura-bench: runs=$RUNS backend=$BACKEND size=${SIZE_MB}MiB pin=$PIN targets=${TARGETS[*]}"
IFS=, read -ra CASELIST <<<"$CASES"
for c in "${CASELIST[@]}"; do
  read -r rw bs qd step count < <(case_def "$c")
  count=$(python3 -c "print(max(1, int($count * $SCALE)))")
  for r in $(seq 1 "$RUNS"); do
    for t in "${TARGETS[@]}"; do
      wflag=""; [ "$rw" = write ] && wflag="-w"
      c0=$(cpu_ticks "${PID[$t]}")
      out=$($TASKSET_C qemu-img bench -f raw -t none $wflag -c "$count" -d "$qd" -s "$bs" -S "$step" "${URL[$t]}" 2>&1) || {
        echo "$t $c run $r failed: $out" >&2; exit 1; }
      c1=$(cpu_ticks "${PID[$t]}")
      secs=$(echo "$out" | sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p')
      [ -n "$secs" ] || { echo "cannot parse qemu-img bench output: $out" >&2; exit 1; }
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$t" "$r" "$count" "$bs" "$qd" "$secs" "$(( c1 - c0 ))" >>"$RES"
      msg "  $c $t run $r: ${secs}s"
    done
  done
done

python3 - "$RES" "$TCK" "$JSON" "$RUNS" "$BACKEND" "$SIZE_MB" "$PIN" <<'PY'
import sys, json, statistics as st
res, tck, as_json = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
rows = {}
order = []
for line in open(res):
    c, t, r, count, bs, qd, secs, ticks = line.split("\t")
    count, bs, qd, secs, ticks = int(count), int(bs), int(qd), float(secs), int(ticks)
    iops = count / secs
    cpu = ticks / tck
    d = dict(iops=iops, mibs=iops * bs / 1048576, lat_us=qd / iops * 1e6, cpu_s=cpu,
             iops_per_core=(count / cpu) if cpu > 0 else None, secs=secs)
    if c not in order: order.append(c)
    rows.setdefault(c, {}).setdefault(t, []).append(d)
out = {"runs": int(sys.argv[4]), "backend": sys.argv[5], "lun_mib": int(sys.argv[6]), "pinned": sys.argv[7] == "1", "cases": []}
def med(lst, k):
    v = [x[k] for x in lst if x[k] is not None]
    return st.median(v) if v else None
for c in order:
    e = {"case": c}
    for t, lst in rows[c].items():
        e[t] = {k: med(lst, k) for k in ("iops", "mibs", "lat_us", "cpu_s", "iops_per_core")}
        e[t]["all_iops"] = [round(x["iops"]) for x in lst]
    if "kura" in e and "tgt" in e:
        e["ratio_iops"] = e["kura"]["iops"] / e["tgt"]["iops"]
        a, b = e["kura"]["iops_per_core"], e["tgt"]["iops_per_core"]
        e["ratio_iops_per_core"] = a / b if a and b else None
    out["cases"].append(e)
if as_json:
    print(json.dumps(out, indent=2)); sys.exit(0)
def f(x, fmt):
    return (fmt % x) if x is not None else "-"
print()
print("medians of %d runs; latency = QD/IOPS; CPU = target utime+stime per run; IOPS/core = ops / target CPU s" % out["runs"])
hdr = "%-11s %-6s %10s %9s %9s %7s %11s %18s" % ("case", "target", "IOPS", "MiB/s", "lat_us", "CPU_s", "IOPS/core", "runs (IOPS)")
print(hdr); print("-" * len(hdr))
for e in out["cases"]:
    for t in ("kura", "tgt"):
        if t not in e: continue
        m = e[t]
        print("%-11s %-6s %10s %9s %9s %7s %11s   %s" % (e["case"], t, f(m["iops"], "%.0f"), f(m["mibs"], "%.1f"),
              f(m["lat_us"], "%.1f"), f(m["cpu_s"], "%.2f"), f(m["iops_per_core"], "%.0f"), " ".join(map(str, m["all_iops"]))))
    if "ratio_iops" in e:
        print("%-11s %-6s %10s %9s %9s %7s %11s" % ("", "k/t", f(e["ratio_iops"], "%.2fx"), "", "", "", f(e["ratio_iops_per_core"], "%.2fx")))
PY
