#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# I5 migration hand-over, with three hosts and a writing guest:
#   - `migrate vm1 --to hv2`: the guest goes on (same tag, later sequence
#     numbers, verified writes on hv2), the lease is hv2's with a higher lver,
#     hv1 has no QEMU left;
#   - the registrations on the VM disk, sampled every 0.1 s throughout, are
#     always a subset of {hv1, hv2} and end as {hv2};
#   - hv3 tries `start vm1` every 0.2 s before, during and after the
#     hand-over window: every try fails with exit code 3 (lease conflict);
#   - an aborted migration (the destination's QEMU killed as soon as it
#     appears) leaves vm1 on hv2 with its lease and registrations as before,
#     and `migrate` exits non-zero.
source "$(dirname "$0")/cluster_lib.sh"
cl_init i5
cl_need_prc
cl_cluster 3
check "the guest writes on hv1" cl_wait_writes hv1 vm1 3 90
TAG=$(grep -ao 'KURA-CW ready tag [^ ]*' "$(cl_console hv1 vm1)" | tail -1 | awk '{print $4}')
LVER0=$(cl_json hv1 "vms['vm1']['lver']")

# registrations: "hvN hvM" per sample (initiator names shortened)
regs() { "$PRC" status "$(cl_url 1)" 2>/dev/null | tr ',' '\n' | sed -n 's/^iqn.2026-12.org.kura:\(hv[0-9]\)=.*/\1/p' | sort -u | tr '\n' ' '; }
sampler() { while [ ! -f "$CL_D/stop.sampler" ]; do echo "$(regs)" >>"$CL_D/regs"; sleep 0.1; done; }
stealer() {
  while [ ! -f "$CL_D/stop.stealer" ]; do
    "$LOCKCTL" -c "$CONF" --host hv3 start vm1 >>"$CL_D/steal.log" 2>&1; echo $? >>"$CL_D/steal.rc"
    sleep 0.2
  done
}
sampler & SAMP=$!
stealer & STEAL=$!
sleep 1
T0=$(now_ms)
cl_lockctl migrate vm1 --to hv2 >"$CL_D/migrate.out" 2>&1; RC=$?
log "migrate vm1 --to hv2: exit $RC in $(( $(now_ms) - T0 )) ms: $(cat "$CL_D/migrate.out")"
sleep 1
touch "$CL_D/stop.sampler" "$CL_D/stop.stealer"; wait $SAMP $STEAL
check "migrate exits 0" [ "$RC" = 0 ]
check "hv2 owns vm1" [ "$(cl_json hv2 "vms['vm1']['owner']")" = hv2 ]
LVER1=$(cl_json hv2 "vms['vm1']['lver']")
check "lver grew ($LVER0 -> $LVER1)" [ "$LVER1" -gt "$LVER0" ]
check "hv1 has no QEMU for vm1" [ "$(cl_vm_pid hv1 vm1)" = 0 ]
check "the same guest (tag $TAG) writes on hv2" wait_for 30 grep -aq "KURA-CW tag $TAG seq [0-9]* blk [0-9]* ok" "$(cl_console hv2 vm1)"
check "no FAIL in the guest" bash -c "! grep -aq 'KURA-CW.*FAIL' '$(cl_console hv1 vm1)' '$(cl_console hv2 vm1)'"
BAD=$(grep -v -x -E '(hv1 )?(hv2 )?' "$CL_D/regs" | sort -u | tr '\n' '|')
check "registrations always within {hv1, hv2} ($(sort -u "$CL_D/regs" | tr '\n' '|'))" [ -z "$BAD" ]
check "registrations end as {hv2} (now: $("$PRC" status "$(cl_url 1)" 2>&1 | tr -d "\n"))" [ "$(regs)" = "hv2 " ]
N=$(wc -l <"$CL_D/steal.rc"); WRONG=$(grep -v -x 3 "$CL_D/steal.rc" | wc -l)
check "hv3's $N steal attempts all failed with exit 3 ($WRONG did not)" [ "$N" -gt 0 ] && [ "$WRONG" = 0 ]

# ---- aborted migration: kill the destination's QEMU as soon as it exists
killer() {
  local p
  for i in $(seq 1 300); do
    p=$(pgrep -f "qemu-system-x86_64.*-qmp unix:$CL_D/hv3/vm1.qmp") && { kill -9 $p; return; }
    sleep 0.05
  done
}
killer & KILLER=$!
cl_lockctl migrate vm1 --to hv3 >"$CL_D/migrate2.out" 2>&1; RC=$?
wait $KILLER
log "migrate vm1 --to hv3 with its QEMU killed: exit $RC: $(tr '\n' ' ' <"$CL_D/migrate2.out")"
check "aborted migrate exits non-zero" [ "$RC" != 0 ]
check "hv2 still owns vm1" [ "$(cl_json hv2 "vms['vm1']['owner']")" = hv2 ]
check "vm1 still runs on hv2" [ "$(cl_json hv2 "vms['vm1']['state']")" = running ]
check "registrations back to {hv2}" wait_for 5 bash -c "[ \"\$(\"$PRC\" status '$(cl_url 1)' | grep -o 'kura:hv[0-9]' | sort -u | tr '\n' ' ')\" = 'kura:hv2 ' ]"
check "the guest still writes on hv2" cl_wait_writes hv2 vm1 2 30
it_finish
