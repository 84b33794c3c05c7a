#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# I8 lost COMPARE AND WRITE completions never double-grant or falsely fail.
# Both hosts reach the HA LUN only through pdu_proxy.py, which drops the
# SCSI Response of chosen CAWs (the write is done on the target, the
# initiator never hears of it). The VMs are stand-ins (qemu_binary = a
# script that sleeps): only the leases matter here.
#   - heartbeats: the next 3 CAW responses of any kind are dropped; nobody
#     is fenced and both hosts stay alive;
#   - leases: ROUNDS times, the response of the next non-heartbeat CAW (the
#     lease change) is dropped during `start vm1 --on hv1` and during `stop
#     vm1`: both exit 0 (no false failure), the lease is hv1's after each
#     start, hv2's `start vm1` meanwhile exits 3 (no double grant), and lver
#     grows by exactly one per change;
#   - the proxy did drop the responses it was asked to.
source "$(dirname "$0")/cluster_lib.sh"
cl_init i8
ROUNDS=${KURA_I8_ROUNDS:-5}
cl_target 1
PP=$(free_port); ARM=$IT_DIR/arm; PLOG=$IT_DIR/pdu.log
: >"$PLOG"; echo 0 >"$ARM"
python3 "$CL_HERE/pdu_proxy.py" "$PP" 127.0.0.1 "$CL_PORT" "$ARM" "$PLOG" >"$IT_DIR/proxy.out" 2>&1 &
echo $! >>"$IT_DIR/pids"
wait_port 127.0.0.1 "$PP" 10 || die "pdu_proxy does not listen"
printf '#!/bin/sh\nexec sleep 100000\n' >"$IT_DIR/fake-qemu"; chmod +x "$IT_DIR/fake-qemu"
CL_HA_URL=$(cl_url 0 "$PP")
cl_config 2 1 heartbeat_interval=0.5 fail_after=4 "qemu_binary=$IT_DIR/fake-qemu"
cl_format
cl_host_start hv1; cl_host_start hv2
sleep 3
# the heartbeat blocks: every CAW LBA seen so far (no lease has moved yet)
HB=$(awk '$1 == "caw" {print $2}' "$PLOG" | sort -un | tr '\n' ',' | sed 's/,$//')
log "heartbeat CAW LBAs: $HB"
check "heartbeats go through the proxy" [ -n "$HB" ]

nobody_fenced() {
  ! cl_lockctl dump 2>/dev/null | grep -q -E '^host .*: (fencing|fenced)'
}
echo 3 >"$ARM"
check "3 heartbeat completions dropped" wait_for 20 grep -q '^0' "$ARM"
sleep 3
check "nobody fenced after lost heartbeat completions" nobody_fenced
check "hv2 sees hv1 alive" cl_state_is hv2 hv1 alive
check "hv1 sees hv2 alive" cl_state_is hv1 hv2 alive

lver() { cl_json hv2 "vms['vm1']['lver']"; }
L0=$(lver); BAD=0; D0=$(grep -c '^drop' "$PLOG")
for r in $(seq 1 "$ROUNDS"); do
  echo "1 $HB" >"$ARM"
  cl_lockctl start vm1 --on hv1 >>"$IT_DIR/rounds.log" 2>&1 || { log "round $r: start failed"; BAD=$((BAD + 1)); }
  [ "$(cl_json hv2 "vms['vm1']['owner']")" = hv1 ] || { log "round $r: owner not hv1"; BAD=$((BAD + 1)); }
  cl_lockctl start vm1 --on hv2 >>"$IT_DIR/rounds.log" 2>&1; rc=$?
  [ "$rc" = 3 ] || { log "round $r: hv2's start exited $rc, not 3"; BAD=$((BAD + 1)); }
  echo "1 $HB" >"$ARM"
  cl_lockctl stop vm1 >>"$IT_DIR/rounds.log" 2>&1 || { log "round $r: stop failed"; BAD=$((BAD + 1)); }
done
echo 0 >"$ARM"
L1=$(lver); DROPS=$(( $(grep -c '^drop' "$PLOG") - D0 ))
check "every start / stop right despite lost completions ($BAD wrong)" [ "$BAD" = 0 ]
check "lver grew by exactly one per change ($L0 -> $L1, $((2 * ROUNDS)) changes)" [ "$L1" = $((L0 + 2 * ROUNDS)) ]
check "the proxy dropped lease completions ($DROPS of $((2 * ROUNDS)) asked)" [ "$DROPS" -ge "$ROUNDS" ]
check "nobody fenced" nobody_fenced
it_finish
