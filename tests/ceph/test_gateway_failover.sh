#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Gateway loss under I/O: one throw-away Ceph cluster (ceph_lib.sh), two
# kura-targetd gateways (gateway_id 1 on 127.0.0.1, 2 on 127.0.0.2) exporting
# the same RBD image as LUN 0, and a host: kura-initiatord with one path to
# each gateway (--login twice, --policy failover, --failback manual) presents
# the one LU as an NBD socket.
#   1. A write-and-verify loop (nbd_verify.py: 64 KiB write, read back,
#      compare, one request at a time) runs; the gateway of the active path
#      is killed with -9. Checks: 0 I/O errors, every read matched, the final
#      read-back of every block matches; prints the failover time, from the
#      kill to the completion of the first request submitted after it (that
#      request went through the other gateway), and the longest request.
#   2. The killed gateway is restarted and its path returns. A QEMU guest
#      (tests/integration/vm/, TCG) whose virtio disk is the initiator's NBD
#      socket loops write + fsync / read / compare of 64 KiB blocks; the
#      gateway of the active path (the other one now) is killed with -9; the
#      guest goes on (K more ok lines, no FAIL); prints the guest's pause.
# Exit 77 with the reason when Ceph, the rbd backend or kura-initiatord are
# missing; phase 2 is skipped (logged) without qemu-system-x86_64 or the guest.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../integration/lib.sh"
source "$here/ceph_lib.sh"
source "$here/../integration/mp_lib.sh" # ctl, active_addr, path_state, wait_for, now_ms
ceph_need
it_init ceph_gateway_failover
grep -q '^KURA_HAVE_RBD:INTERNAL=ON' "$KURA_BUILD/CMakeCache.txt" ||
  skip "kura built without the rbd backend (librbd-dev, librados-dev)"
INID=$KURA_BUILD/initiator/kura-initiatord
[ -x "$INID" ] || skip "kura-initiatord not built ($INID)"
need_cmd python3
IQN=iqn.2026-12.org.kura:ceph-gw
K=5 # guest iterations required after the kill

ceph_start
ceph_pool_create rbd
ceph_image_create rbd fo 256M # layering only: no exclusive lock to pass between gateways

P1=$(free_port 127.0.0.1)
P2=$(free_port 127.0.0.2)
A1=127.0.0.1:$P1
A2=127.0.0.2:$P2
ceph_gw_conf 1 "$A1" "$IQN" fo >"$IT_DIR/gw1.conf"
ceph_gw_conf 2 "$A2" "$IQN" fo >"$IT_DIR/gw2.conf"
ceph_gw_start 1 "$IT_DIR/gw1.conf" "$A1"
ceph_gw_start 2 "$IT_DIR/gw2.conf" "$A2"
gw_of() { [ "$1" = 127.0.0.2 ] && echo 2 || echo 1; } # gateway of a path address

CTL=$IT_DIR/ctl.sock
NBD=$IT_DIR/nbd
"$INID" --root "$IT_DIR/iscsi" --initiator-name iqn.2026-12.org.kura:ceph-host --ctl-sock "$CTL" \
  --nbd-dir "$NBD" --login "$A1,$IQN" --login "$A2,$IQN" --policy failover --failback manual \
  --no-path-retry 60 --retry-max 1 --log-level info >"$IT_DIR/initiatord.log" 2>&1 &
IT_PIDS+=($!)
wait_for 20 test -S "$CTL" || die "kura-initiatord did not create its control socket"
check "one path to each gateway logs in" wait_for 30 n_up_is 2
SOCK=$(ls "$NBD"/naa.*.sock 2>/dev/null | head -1)
check "the two paths are one LU (one NBD socket)" test "$(ls "$NBD"/naa.*.sock 2>/dev/null | wc -l)" = 1

# ---- 1. write-and-verify loop, kill -9 the active gateway ----
T0=$(date +%s.%N)
python3 "$here/nbd_verify.py" "$SOCK" "$IT_DIR/stop1" "$IT_DIR/ops1" $((128 << 20)) $((32 << 20)) \
  >"$IT_DIR/verify1.out" 2>&1 &
WPID=$!
wait_for 30 test -s "$IT_DIR/ops1" || die "the write-and-verify loop did not start: $(cat "$IT_DIR/verify1.out")"
sleep 3
act=$(active_addr)
victim=$(gw_of "$act")
log "active path: $act; kill -9 gateway $victim"
t_kill=$(now_ms)
ceph_gw_kill "$victim"
check "the active path ($act) is declared down" wait_for 30 path_not_up "$act"
t_down=$(now_ms)
n_before=$(wc -l <"$IT_DIR/ops1")
ops_after_kill() { [ "$(awk -v k="$t_kill" '$1 >= k' "$IT_DIR/ops1" | wc -l)" -ge "$1" ]; }
wait_for 60 ops_after_kill 20 ||
  log "fewer than 20 requests after the kill within 60 s"
sleep 2
touch "$IT_DIR/stop1"
wait "$WPID"
rc=$?
cat "$IT_DIR/verify1.out"
failover=$(awk -v k="$t_kill" '$1 >= k { print $2 - k; exit }' "$IT_DIR/ops1")
longest=$(awk '{ d = $2 - $1; if (d > m) m = d } END { print m + 0 }' "$IT_DIR/ops1")
after=$(awk -v k="$t_kill" '$1 >= k' "$IT_DIR/ops1" | wc -l)
log "GATEWAY FAILOVER: kill -9 of gateway $victim -> first request submitted after the kill completed in ${failover:-?} ms (the control socket, polled, showed the path down $((t_down - t_kill)) ms after the kill); longest request ${longest} ms; $(wc -l <"$IT_DIR/ops1") requests, $after after the kill"
check "0 I/O errors and every read matched across the kill (and the final read-back)" test $rc = 0
check "the loop went on through the other gateway ($after requests after the kill)" test "$after" -ge 20
check "I/O now goes through gateway $((3 - victim))" test "$(gw_of "$(active_addr)")" = $((3 - victim))
log "phase 1: $(echo "$(date +%s.%N) - $T0" | bc | cut -c1-5) s ($n_before requests before the path went down)"

# ---- 2. a QEMU guest on the LU through both gateways ----
T0=$(date +%s.%N)
ceph_gw_start "$victim" "$IT_DIR/gw$victim.conf" "$([ "$victim" = 1 ] && echo "$A1" || echo "$A2")"
check "gateway $victim restarted and its path is back" wait_for 30 n_up_is 2
if ! ceph_vm_guest; then
  log "SKIP phase 2 (VM): $VM_WHY"
else
  CON=$IT_DIR/vm-console.log
  oks_ge() { [ "$(ceph_vm_oks "$CON")" -ge "$1" ]; }
  ceph_vm_start "nbd+unix:///?socket=$SOCK" "$CON" "kura.iters=0 kura.blocks=512" 240
  check "the guest boots and sees the disk" wait_for 90 grep -q "KURA-VM ready" "$CON"
  check "the guest writes and verifies ($K iterations)" wait_for 60 oks_ge $K
  act=$(active_addr)
  victim=$(gw_of "$act")
  n0=$(ceph_vm_oks "$CON")
  t_kill=$(now_ms)
  log "guest running ($n0 iterations ok), active path $act: kill -9 gateway $victim"
  ceph_gw_kill "$victim"
  check "the guest goes on after the kill ($K more iterations)" \
    wait_for 90 oks_ge $((n0 + K))
  pause=$(grep "KURA-VM iter [0-9]* ok" "$CON" | awk -v k="$t_kill" '{ if (p && $1 > k && $1 - p > m) m = $1 - p; p = $1 } END { print m + 0 }')
  check "no FAIL line and no I/O error from the guest" \
    bash -c "! grep -q -e 'KURA-VM.*FAIL' -e 'I/O error' -e 'Kernel panic' '$CON'"
  check "QEMU still running" kill -0 "$VM_PID"
  check "I/O now goes through gateway $((3 - victim))" test "$(gw_of "$(active_addr)")" = $((3 - victim))
  log "VM GATEWAY FAILOVER: kill -9 of gateway $victim; longest pause between two guest iterations around it ${pause} ms; $(ceph_vm_oks "$CON") iterations ok"
  kill "$VM_PID" 2>/dev/null
  wait "$VM_PID" 2>/dev/null
  log "phase 2: $(echo "$(date +%s.%N) - $T0" | bc | cut -c1-5) s"
fi
ceph_gw_kill 1
ceph_gw_kill 2
ceph_stop
it_finish
