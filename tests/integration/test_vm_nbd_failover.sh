#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A QEMU VM (TCG) whose disk is kura-initiatord's NBD export keeps running
# while a path fails:
#   - kura-targetd in a network namespace with two portals on two veth pairs
#     (mp_lib.sh mp_setup, as test_multipath_nbd.sh); kura-initiatord logged
#     in over both paths (--policy failover --failback manual), LU exported
#     on a Unix socket;
#   - a tiny guest (vm/build-guest.sh: Debian cloud kernel + busybox-static
#     initramfs, cached under ${XDG_CACHE_HOME:-/var/cache}/kura-vm) boots with
#     that socket as its virtio-blk disk and loops write(O_DIRECT)+fsync /
#     read / compare of sequence-numbered 64 KiB blocks (vm/guest-init.sh),
#     one "KURA-VM iter N ok" line per iteration on the serial console;
#   - the active path is cut, the guest must go on (no FAIL line, QEMU still
#     running, >= K more ok lines), the path is restored; with failback manual
#     the next cut hits the other path. Repeated KURA_VM_CYCLES times (4).
# Reports the failover pause the guest sees: the longest gap between two
# consecutive ok lines around each cut (host timestamps on the console).
# Exit 77 with the reason when netns, qemu-system-x86_64 or the guest's
# packages (apt-get download) are unavailable. KURA_VM_CACHE overrides the
# guest cache directory; KURA_VM_CYCLES the number of cuts.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mp_lib.sh"
it_init vm_nbd_failover
HERE=$(cd "$(dirname "$0")" && pwd)
INID=${KURA_INITIATORD:-$KURA_BUILD/initiator/kura-initiatord}
[ -x "$INID" ] || skip "kura-initiatord not built ($INID)"
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
need_cmd ip python3 qemu-system-x86_64
CYCLES=${KURA_VM_CYCLES:-4}
WARM=5                                  # ok iterations before the first cut
K=5                                     # ok iterations required after each cut
STALL_MAX=${KURA_VM_STALL_MAX:-30}      # seconds without an ok line = guest hung

# ---- guest ---------------------------------------------------------------------
GUEST=$("$HERE/vm/build-guest.sh" 2>"$IT_DIR/build-guest.log"); rc=$?
if [ $rc -eq 77 ]; then skip "cannot build the guest: $(grep build-guest: "$IT_DIR/build-guest.log" | tail -1)"; fi
[ $rc -eq 0 ] || { cat "$IT_DIR/build-guest.log"; die "vm/build-guest.sh failed ($rc)"; }
VMLINUZ=$(echo "$GUEST" | sed -n 's/^KERNEL=//p'); INITRD=$(echo "$GUEST" | sed -n 's/^INITRD=//p')
[ -f "$VMLINUZ" ] && [ -f "$INITRD" ] || die "build-guest.sh gave no kernel/initrd: $GUEST"
log "guest: $VMLINUZ + $INITRD"

# ---- two paths -------------------------------------------------------------------
NS=kvm$$
SUB=$((20 + RANDOM % 200))
HA=vvma$$; TA=vvmA$$; HB=vvmb$$; TB=vvmB$$
ADDR_A=10.$SUB.1.2; ADDR_B=10.$SUB.2.2
INI_PID=""; QEMU_PID=""
vm_cleanup() {
  [ -n "$QEMU_PID" ] && kill -9 "$QEMU_PID" 2>/dev/null && wait "$QEMU_PID" 2>/dev/null
  [ -n "$INI_PID" ] && kill -9 "$INI_PID" 2>/dev/null && wait "$INI_PID" 2>/dev/null
  ip link del "$HA" 2>/dev/null; ip link del "$HB" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  it_cleanup
}
trap vm_cleanup EXIT

MP_IMG=vm.img MP_SIZE=256M MP_HOST=vm-host mp_setup

NBD=$IT_DIR/nbd
"$INID" --root "$ROOT" --ctl-sock "$CTL" --nbd-dir "$NBD" --no-path-retry 20 --retry-max 1 \
  --policy failover --failback manual >"$IT_DIR/initiatord.log" 2>&1 &
INI_PID=$!
wait_for 20 test -S "$CTL" || die "initiatord did not create its control socket"
check "both paths log in" wait_for 20 n_up_is 2
SOCK=$(ls "$NBD"/naa.*.sock 2>/dev/null | head -1)
[ -S "$SOCK" ] || die "no NBD socket under $NBD"

# ---- the VM ------------------------------------------------------------------------
# Serial console on stdout, each line stamped with the host's clock (ms).
CONSOLE=$IT_DIR/console.log
cat >"$IT_DIR/stamp.py" <<'PY'
import sys, time
out = open(sys.argv[1], "a", buffering=1)
for raw in iter(sys.stdin.buffer.readline, b""):
    l = raw.decode("utf-8", "replace").rstrip("\r\n")
    out.write("%d %s\n" % (time.time() * 1000, l))
PY
: >"$CONSOLE"
# werror/rerror=report: a failed request reaches the guest (FAIL line) instead
# of pausing the VM silently.
qemu-system-x86_64 -accel tcg -m 256 -nographic -monitor none -nic none -no-reboot \
  -kernel "$VMLINUZ" -initrd "$INITRD" -append 'console=ttyS0 quiet panic=-1' \
  -drive "file=nbd+unix:///?socket=$SOCK,format=raw,if=none,id=d0,cache=none,werror=report,rerror=report" \
  -device virtio-blk-pci,drive=d0 \
  </dev/null 2>"$IT_DIR/qemu.err" > >(python3 "$IT_DIR/stamp.py" "$CONSOLE") &
QEMU_PID=$!
T_START=$(now_ms)

oks() { grep -c "KURA-VM iter [0-9]* ok" "$CONSOLE"; }
vm_failed() { grep -q -e "KURA-VM.*FAIL" -e "Power down" -e "Kernel panic" -e "I/O error" "$CONSOLE"; }
vm_alive() { kill -0 "$QEMU_PID" 2>/dev/null && ! vm_failed; }
# wait_oks N SECONDS: until N ok lines in all; fails early when the VM dies,
# prints FAIL, or goes STALL_MAX seconds without any new ok line.
wait_oks() {
  local want=$1 t=$2 end=$(( $(now_ms) + $2 * 1000 )) last n lastt
  last=$(oks); lastt=$(now_ms)
  while :; do
    n=$(oks)
    [ "$n" -ge "$want" ] && return 0
    vm_alive || { log "VM stopped or failed: $(grep -e FAIL -e 'Power down' "$CONSOLE" | tail -2)"; return 1; }
    if [ "$n" != "$last" ]; then last=$n; lastt=$(now_ms); fi
    [ $(( $(now_ms) - lastt )) -gt $((STALL_MAX * 1000)) ] && { log "no ok line for ${STALL_MAX} s"; return 1; }
    [ "$(now_ms)" -gt "$end" ] && { log "only $n of $want ok lines after ${t} s"; return 1; }
    sleep 0.1
  done
}
# max_gap FROM_MS TO_MS: the longest interval (ms) between consecutive ok
# lines whose later line is stamped after FROM and the earlier before TO.
max_gap() {
  grep "KURA-VM iter [0-9]* ok" "$CONSOLE" | awk -v f="$1" -v t="$2" '
    { if (p && $1 > f && p < t && $1 - p > m) m = $1 - p; p = $1 } END { printf "%d", m }'
}

check "guest boots and sees the NBD disk" wait_for 60 grep -q "KURA-VM ready" "$CONSOLE"
T_READY=$(now_ms)
log "guest ready after $(( T_READY - T_START )) ms: $(grep -o "KURA-VM ready.*" "$CONSOLE")"
check "$WARM ok iterations before any cut" wait_oks $WARM 60
BASE=$(grep "KURA-VM iter [0-9]* ok" "$CONSOLE" | awk '{ if (p) print $1 - p; p = $1 }' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
log "iteration time before any cut: median ${BASE} ms"

DETS=(); GAPS=(); RGAPS=(); CUT_ADDRS=()
for c in $(seq 1 "$CYCLES"); do
  act=$(active_addr); dev=$HA; [ "$act" = "$ADDR_B" ] && dev=$HB
  [ -n "$act" ] || { log "no active path before cycle $c"; act=$ADDR_A; dev=$HA; }
  CUT_ADDRS+=("$act")
  n0=$(oks); t0=$(now_ms)
  ip link set "$dev" down
  wait_for 10 path_not_up "$act" || log "active path $act not declared down within 10 s"
  det=$(( $(now_ms) - t0 ))
  check "cycle $c: guest keeps running through the cut of $act ($K more ok lines)" wait_oks $((n0 + K)) 45
  t1=$(now_ms)
  gap=$(max_gap "$t0" "$t1")
  new=$(active_addr)
  tr0=$(now_ms); n1=$(oks)
  ip link set "$dev" up
  wait_for 20 n_up_is 2 || log "path $act did not come back within 20 s"
  check "cycle $c: guest keeps running through the restore of $act" wait_oks $((n1 + 2)) 30
  rgap=$(max_gap "$tr0" "$(now_ms)")
  DETS+=("$det"); GAPS+=("$gap"); RGAPS+=("$rgap")
  log "cycle $c: cut $act (I/O moved to ${new:-?}), declared down after ${det} ms; longest guest pause ${gap} ms; restore: longest pause ${rgap} ms"
done

check "no FAIL line and no kernel I/O error from the guest" bash -c "! grep -q -e 'KURA-VM.*FAIL' -e 'I/O error' '$CONSOLE'"
check "QEMU still running after $CYCLES cuts" vm_alive
check "the cuts hit both paths" bash -c "[ $(printf '%s\n' "${CUT_ADDRS[@]}" | sort -u | wc -l) -ge $(( CYCLES >= 2 ? 2 : 1 )) ]"
TOTAL=$(oks)
maxgap=$(printf '%s\n' "${GAPS[@]}" | sort -n | tail -1)
medgap=$(printf '%s\n' "${GAPS[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
maxdet=$(printf '%s\n' "${DETS[@]}" | sort -n | tail -1)
maxr=$(printf '%s\n' "${RGAPS[@]}" | sort -n | tail -1)
log "VM FAILOVER: $TOTAL guest iterations ok, 0 FAIL; guest pause at a cut median ${medgap} ms, max ${maxgap} ms (iteration ${BASE} ms); detection max ${maxdet} ms; longest pause at a restore ${maxr} ms; $(( ($(now_ms) - T_START) / 1000 )) s with the VM"
check "guest pause at every cut under 10 s" test "${maxgap:-99999}" -le 10000
grep -e FAIL -e "Power down" -e panic -e "I/O error" "$CONSOLE" | head -5
kill -9 "$QEMU_PID" 2>/dev/null; wait "$QEMU_PID" 2>/dev/null; QEMU_PID=""
it_finish
