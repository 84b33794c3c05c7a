#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Issue 10 item 2, the kura-initiatord route (disk_via = initiatord): one
# kura-targetd; hosts hv1 and hv2, each with its own kura-initiatord (own node
# DB, initiator name = the host's, own FUSE dir = the host's initiatord_dir)
# and its own kura-lockd. Checked:
#   - hv1's daemon starts vm1's QEMU on hv1's FUSE file naa.<hex> (not the
#     iscsi:// URL) and the guest writes through kura-initiatord;
#   - before any fence, a direct write through hv1's FUSE file succeeds (the
#     name-wide registration covers kura-initiatord's sessions);
#   - hv1's kura-lockd and QEMU are killed (-9) but its kura-initiatord keeps
#     running (a zombie data path); hv2 fences hv1 and restarts vm1 on hv2's
#     FUSE file; then a direct write through hv1's FUSE file fails
#     (RESERVATION CONFLICT -> EIO) while hv2's guest keeps writing.
# Not for: the iscsi:// route (the other cluster tests).
source "$(dirname "$0")/cluster_lib.sh"
cl_init initiatord_route
INID=${KURA_INITIATORD:-$KURA_BUILD/initiator/kura-initiatord}
[ -x "$INID" ] || skip "kura-initiatord not built ($INID)"
[ "$(id -u)" = 0 ] || skip "needs root (FUSE mounts of kura-initiatord)"
[ -c /dev/fuse ] || skip "/dev/fuse missing"
declare -A INI_PID=()
ir_cleanup() {   # the FUSE mounts go before cl_cleanup removes the directory
  local p
  for p in "${INI_PID[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  umount -l "$CL_D/hv1-lu" "$CL_D/hv2-lu" 2>/dev/null
  cl_cleanup
}
trap ir_cleanup EXIT

cl_target 1
cl_config 2 1 heartbeat_interval=0.5 fail_after=4 vm.disk_via=initiatord
for h in hv1 hv2; do
  sed -i "s|^state_dir = $CL_D/$h\$|&\ninitiatord_dir = $CL_D/$h-lu|" "$CONF"
done
grep -q "initiatord_dir = $CL_D/hv2-lu" "$CONF" || die "config: no initiatord_dir"

# ini_start HOST: its kura-initiatord, with the host's initiator name, logged
# in to the target (node.startup = automatic); waits for the two FUSE files.
ini_start() {
  local h=$1 root=$CL_D/$h-iscsi d
  d=$root/nodes/$CL_IQN/127.0.0.1,$CL_PORT,1
  mkdir -p "$d" "$CL_D/$h-lu"
  echo "InitiatorName=iqn.2026-12.org.kura:$h" >"$root/initiatorname.iscsi"
  printf '%s\n' "node.name = $CL_IQN" "node.tpgt = 1" "node.startup = automatic" \
    "node.conn[0].address = 127.0.0.1" "node.conn[0].port = $CL_PORT" >"$d/default"
  "$INID" --root "$root" --ctl-sock "$CL_D/$h-ini.sock" --fuse-dir "$CL_D/$h-lu" \
    >"$CL_D/$h-initiatord.log" 2>&1 &
  INI_PID[$h]=$!
  echo "${INI_PID[$h]}" >>"$CL_D/pids"
  wait_for 20 bash -c "[ \$(ls '$CL_D/$h-lu' 2>/dev/null | grep -c '^naa\.') = 2 ]" ||
    { tail -5 "$CL_D/$h-initiatord.log"; die "$h: kura-initiatord shows no two LUs"; }
}
ini_start hv1; ini_start hv2
cl_format
cl_host_start hv1; cl_host_start hv2

# qemu_file HOST: the file= of disk0 in the command line of HOST's QEMU of vm1
qemu_file() {
  local p; p=$(cl_vm_pid "$1" vm1)
  [ "${p:-0}" != 0 ] && tr '\0' '\n' <"/proc/$p/cmdline" | sed -n 's/^file=\([^,]*\),.*id=disk0.*/\1/p'
}
# dd_direct FILE: one 4 KiB O_DIRECT write of the disk's last block (no guest data there)
dd_direct() {
  dd if=/dev/urandom of="$1" bs=4096 count=1 seek=4095 oflag=direct conv=notrunc \
    status=none 2>>"$CL_D/dd.log"
}
dd_fails() { ! dd_direct "$1"; }

T_START=$(now_ms)
cl_ctl hv1 start vm1 >>"$CL_D/lockctl.log" 2>&1 || die "start vm1 on hv1 failed"
A_FILE=$(qemu_file hv1)
log "hv1's QEMU opens $A_FILE"
check "hv1's QEMU opens hv1's kura-initiatord file naa.<hex>" \
  bash -c "[[ '$A_FILE' == '$CL_D/hv1-lu/naa.'* ]] && [ -f '$A_FILE' ]"
check "hv1's daemon says so" grep -q "vm vm1: QEMU pid .* on kura-initiatord files" "$CL_D/hv1.log"
check "hv1's guest writes through kura-initiatord" cl_wait_writes hv1 vm1 3 90
check "before the fence, a direct write through hv1's FUSE file succeeds" dd_direct "$A_FILE"

A_QEMU=$(cl_vm_pid hv1 vm1)
log "crashing hv1's kura-lockd and QEMU $A_QEMU (kill -9); its kura-initiatord keeps running"
kill -9 "${CL_PID[hv1]}" "$A_QEMU"
T0=$(now_ms)
check "hv2 fences hv1" wait_for 30 cl_state_is hv2 hv1 fenced
check "hv2 runs vm1" wait_for 30 bash -c "[ \"\$(\"$LOCKCTL\" -c \"$CONF\" --host hv2 status | awk '\$2 == \"vm1\" {print \$4}')\" = hv2 ]"
log "fenced and restarted $(( $(now_ms) - T0 )) ms after the crash"
B_FILE=$(qemu_file hv2)
check "hv2's QEMU opens hv2's file of the same LU ($B_FILE)" \
  bash -c "[ '$B_FILE' = '$CL_D/hv2-lu/$(basename "$A_FILE")' ]"
check "hv1's kura-initiatord still runs (zombie data path)" kill -0 "${INI_PID[hv1]}"
check "after the fence, a direct write through hv1's FUSE file fails" dd_fails "$A_FILE"
log "hv1's write: $(tail -1 "$CL_D/dd.log")"
# kura-initiatord returns EBADE for RESERVATION CONFLICT (as Linux's block
# layer does: BLK_STS_RESV_CONFLICT), EIO for other failures
check "  ... refused by the target: RESERVATION CONFLICT (EBADE)" \
  grep -q "error writing.*Invalid exchange" "$CL_D/dd.log"
B_CON=$(cl_console hv2 vm1)
N=$(cl_writes "$B_CON")
check "hv2's guest keeps writing" wait_for 60 cl_writes_gt "$B_CON" $(( N + 3 ))
check "a direct write through hv2's FUSE file succeeds" dd_direct "$B_FILE"
log "run time $(( $(now_ms) - T_START )) ms from the first start"
it_finish
