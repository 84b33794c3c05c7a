#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kura-initiatord multipath failover, end to end with real daemons and the
# kernel loop driver:
#   - one kura-targetd in its own network namespace with two portals on two
#     veth pairs (two real paths, cut with `ip link set ... down`);
#   - kura-initiatord logs in from a node DB (node.startup = automatic),
#     presents the LU as a FUSE file, `losetup --direct-io=on` on top;
#   - an O_DIRECT write-and-verify loop on /dev/loopN while the active path
#     is cut and restored 20 times: 0 I/O errors, failover times reported;
#   - all paths down: I/O queued, EIO after no_path_retry; FAIL-QUEUE fails
#     the queue at once; a reader stuck on the FUSE file and the daemon
#     itself die from kill -9 within 1 s.
# Needs root, ip netns, losetup, /dev/fuse; otherwise exit 77 with the reason.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mp_lib.sh"
it_init multipath_failover
INID=${KURA_INITIATORD:-$KURA_BUILD/initiator/kura-initiatord}
[ -x "$INID" ] || skip "kura-initiatord not built ($INID)"
[ "$(id -u)" = 0 ] || skip "needs root (netns, loop devices, FUSE mounts)"
need_cmd ip losetup python3
[ -c /dev/fuse ] || skip "/dev/fuse missing"
CYCLES=${KURA_MP_CYCLES:-20}
NPR=6                                   # no_path_retry seconds

NS=kmp$$
SUB=$((20 + RANDOM % 200))
HA=vmpa$$; TA=vmpA$$; HB=vmpb$$; TB=vmpB$$
ADDR_A=10.$SUB.1.2; ADDR_B=10.$SUB.2.2
INI_PID=""; LOOP=""; MNT=$IT_DIR/lu
mp_cleanup() {
  [ -n "$WRITER_PID" ] && kill -9 "$WRITER_PID" 2>/dev/null
  [ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
  [ -n "$INI_PID" ] && kill -9 "$INI_PID" 2>/dev/null
  umount -l "$MNT" 2>/dev/null
  ip link del "$HA" 2>/dev/null; ip link del "$HB" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  it_cleanup
}
trap mp_cleanup EXIT

mp_setup

"$INID" --root "$ROOT" --ctl-sock "$CTL" --fuse-dir "$MNT" --no-path-retry $NPR --retry-max 1 \
  --policy failover --failback immediate >"$IT_DIR/initiatord.log" 2>&1 &
INI_PID=$!
wait_for 20 test -S "$CTL" || die "initiatord did not create its control socket"
check "both paths log in from the node DB" wait_for 20 n_up_is 2
FILE=$(ls "$MNT"/naa.* 2>/dev/null | head -1)
check "FUSE file per LU named by WWID" test -n "$FILE"
check "alias symlink by target+LUN" test -L "$MNT/$KURA_IQN-lun0"
check "FUSE file size is the LU capacity" test "$(stat -c %s "$FILE")" = $((512 * 1024 * 1024))
ctl SESSIONS >"$IT_DIR/sessions.txt"
check "SESSIONS shows the device" grep -q "device=$FILE" "$IT_DIR/sessions.txt"
LOOP=$(losetup --direct-io=on -f --show "$FILE") || die "losetup failed"
log "presented as $LOOP"

# O_DIRECT write-and-verify loop: writes 64 KiB blocks with a pattern that
# encodes (round, block), reads each back, verifies; logs slow operations.
cat >"$IT_DIR/writer.py" <<'PY'
import mmap, os, sys, time, struct
dev, stop, slow, out = sys.argv[1:5]
fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
BS = 65536; NBLK = 2048                         # first 128 MiB
w = mmap.mmap(-1, BS); r = mmap.mmap(-1, BS)
ops = errs = 0; maxlat = 0.0; rnd = 0; last = {}
f = open(slow, "a")
while not os.path.exists(stop):
    rnd += 1
    for k in range(64):
        blk = (rnd * 977 + k * 131) % NBLK
        pat = struct.pack("<QQ", rnd, blk) * (BS // 16)
        w.seek(0); w.write(pat)
        for op in ("w", "r"):
            t0 = time.monotonic()
            try:
                if op == "w": os.pwritev(fd, [w], blk * BS)
                else: os.preadv(fd, [r], blk * BS)
            except OSError as e:
                errs += 1; print("ERROR", op, blk, e, flush=True); continue
            lat = time.monotonic() - t0; ops += 1
            maxlat = max(maxlat, lat)
            if lat > 0.2: f.write("%.3f %.3f\n" % (time.time(), lat)); f.flush()
            if op == "r" and r[:] != pat:
                errs += 1; print("MISMATCH", blk, flush=True)
        last[blk] = rnd
# final sweep: every block holds the last pattern written to it
for blk, rr in last.items():
    os.preadv(fd, [r], blk * BS)
    if r[:] != struct.pack("<QQ", rr, blk) * (BS // 16):
        errs += 1; print("FINAL MISMATCH", blk, flush=True)
open(out, "w").write("ops=%d errors=%d maxlat_ms=%d\n" % (ops, errs, maxlat * 1000))
PY
rm -f "$IT_DIR/stop"; : >"$IT_DIR/slow.txt"
python3 "$IT_DIR/writer.py" "$LOOP" "$IT_DIR/stop" "$IT_DIR/slow.txt" "$IT_DIR/writer.out" >"$IT_DIR/writer.log" 2>&1 &
WRITER_PID=$!
sleep 2

max_in() {  # largest latency (ms) logged at or after epoch seconds $1
  awk -v t="$1" '$1 >= t { if ($2 > m) m = $2 } END { printf "%d", m * 1000 }' "$IT_DIR/slow.txt"
}
DETS=(); STALLS=()
for c in $(seq 1 "$CYCLES"); do
  act=$(active_addr); dev=$HA; [ "$act" = "$ADDR_B" ] && dev=$HB
  t0=$(now_ms); ts=$(date +%s.%N)
  ip link set "$dev" down
  wait_for 10 path_not_up "$act" || log "active path $act not declared down within 10 s"
  det=$(( $(now_ms) - t0 ))
  sleep 1.5
  ip link set "$dev" up
  wait_for 20 n_up_is 2 || log "path A did not come back within 20 s"
  sleep 0.5
  stall=$(max_in "$ts")
  DETS+=("$det"); STALLS+=("$stall")
  log "cycle $c: active path $act cut, declared down after ${det} ms; longest I/O during the cycle ${stall} ms"
done
touch "$IT_DIR/stop"
wait "$WRITER_PID"; WRITER_PID=""
cat "$IT_DIR/writer.log"; cat "$IT_DIR/writer.out"
check "write-and-verify through $CYCLES path cuts: 0 I/O errors" grep -q "errors=0" "$IT_DIR/writer.out"
maxdet=$(printf '%s\n' "${DETS[@]}" | sort -n | tail -1)
maxstall=$(printf '%s\n' "${STALLS[@]}" | sort -n | tail -1)
med=$(printf '%s\n' "${STALLS[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
log "FAILOVER: detection max ${maxdet} ms; I/O stall median ${med} ms, max ${maxstall} ms over $CYCLES cuts"
check "dead path detected within 5 s every time" test "$maxdet" -le 5000
ctl STATUS | tee -a "$IT_DIR/status.txt"

# ---- all paths down ----------------------------------------------------------
ip link set "$HA" down; ip link set "$HB" down
check "no path up" wait_for 10 n_up_is 0
dd if="$FILE" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null &
DDP=$!
sleep 1
check "reader waits while no path is up (queued)" kill -0 $DDP
t0=$(now_ms); kill -9 $DDP
wait_for 1 bash -c "! kill -0 $DDP 2>/dev/null"; dead=$(( $(now_ms) - t0 ))
check "a reader stuck on the FUSE file dies from kill -9 within 1 s (${dead} ms)" test $dead -le 1000
wait $DDP 2>/dev/null
t0=$(now_ms)
dd if="$FILE" of=/dev/null bs=4096 count=1 skip=7 iflag=direct 2>"$IT_DIR/dd.err"; rc=$?
el=$(( $(now_ms) - t0 ))
log "read with no path: rc=$rc after ${el} ms: $(tail -1 "$IT_DIR/dd.err")"
check "queued I/O fails with EIO after the no_path_retry bound" \
  bash -c "[ $rc -ne 0 ] && grep -q 'Input/output error' '$IT_DIR/dd.err' && [ $el -le $(( NPR * 1000 + 3000 )) ]"

ip link set "$HA" up; ip link set "$HB" up
check "paths come back" wait_for 20 n_up_is 2
check "I/O works again after the paths return" dd if="$FILE" of=/dev/null bs=65536 count=16 iflag=direct status=none
ip link set "$HA" down; ip link set "$HB" down
wait_for 10 n_up_is 0
dd if="$FILE" of=/dev/null bs=4096 count=1 iflag=direct 2>"$IT_DIR/dd2.err" &
DDP=$!
sleep 1
t0=$(now_ms); ctl FAIL-QUEUE all >"$IT_DIR/failq.txt"
wait $DDP; rc=$?; el=$(( $(now_ms) - t0 ))
check "FAIL-QUEUE fails queued I/O now (rc=$rc in ${el} ms)" bash -c "[ $rc -ne 0 ] && [ $el -le 2000 ]"

dd if="$FILE" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null &
DDP=$!
sleep 0.5
t0=$(now_ms); kill -9 "$INI_PID"
wait_for 1 bash -c "! kill -0 $INI_PID 2>/dev/null"; dead=$(( $(now_ms) - t0 ))
check "kura-initiatord dies from kill -9 within 1 s with I/O queued (${dead} ms)" test $dead -le 1000
wait "$INI_PID" 2>/dev/null; INI_PID=""
umount -l "$MNT" 2>/dev/null
wait $DDP 2>/dev/null
it_finish
