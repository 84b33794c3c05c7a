#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# I3 zombie: host hv1 runs vm1 (a cluster-writer guest). hv1's kura-lockd and
# its QEMU are frozen (SIGSTOP); hv2 declares hv1 dead, fences it and
# restarts vm1. Then hv1 is resumed (SIGCONT). Checked:
#   - hv2 fences hv1 and runs vm1 (its guest writes, with a new tag);
#   - not one of hv1's writes lands after the fence: the blocks on the VM disk
#     that carry hv1's guest tag after the resume are exactly those that
#     were there when the fence completed (hv2's guest writes elsewhere);
#   - hv1's guest prints no verified write after the resume;
#   - hv1's daemon kills its QEMU and reports itself fenced.
# Short timings (heartbeat 0.5 s, fail_after 4 s): this test is about safety.
source "$(dirname "$0")/cluster_lib.sh"
cl_init i3
cl_cluster 2
check "hv1's guest writes" cl_wait_writes hv1 vm1 3 90
A_CON=$(cl_console hv1 vm1)
A_TAG=$(grep -ao 'KURA-CW ready tag [^ ]*' "$A_CON" | tail -1 | awk '{print $4}')
A_QEMU=$(cl_vm_pid hv1 vm1)
log "hv1: guest tag $A_TAG, QEMU pid $A_QEMU; freezing hv1"
kill -STOP "${CL_PID[hv1]}" "$A_QEMU"
T0=$(now_ms)
check "hv2 fences hv1" wait_for 30 cl_state_is hv2 hv1 fenced
check "hv2 runs vm1" wait_for 30 bash -c "[ \"\$(\"$LOCKCTL\" -c \"$CONF\" --host hv2 status | awk '\$2 == \"vm1\" {print \$4}')\" = hv2 ]"
log "fenced and restarted $(( $(now_ms) - T0 )) ms after the freeze"
# sleep past any in-flight request of the frozen QEMU is not needed: the
# fence confirmed hv1's key gone, so what lands later is refused.
cl_lun_scan 1 | awk -v t="$A_TAG" '$1 == t' | sort >"$CL_D/a_at_fence"
log "blocks of hv1's guest on the disk at the fence: $(wc -l <"$CL_D/a_at_fence")"
A_OK=$(cl_writes "$A_CON")
kill -CONT "$A_QEMU" "${CL_PID[hv1]}"
check "hv1's daemon kills its QEMU after the resume" wait_for 15 bash -c "! kill -0 $A_QEMU 2>/dev/null"
check "hv1 reports itself fenced" wait_for 10 cl_state_is hv1 hv1 fenced
check "hv2's guest writes" cl_wait_writes hv2 vm1 3 90
cl_lun_scan 1 | awk -v t="$A_TAG" '$1 == t' | sort >"$CL_D/a_after"
NEW=$(comm -13 "$CL_D/a_at_fence" "$CL_D/a_after" | wc -l)
[ "$NEW" = 0 ] || comm -13 "$CL_D/a_at_fence" "$CL_D/a_after" | head -5
check "no write of hv1's guest landed after the fence ($NEW new blocks)" [ "$NEW" = 0 ]
LATE=$(cl_late_oks "$A_CON" "$A_OK" "$CL_D/a_at_fence")
check "hv1's guest verified no write after the fence ($LATE; $(( $(cl_writes "$A_CON") - A_OK )) in flight at the freeze)" [ "$LATE" = 0 ]
grep -a "KURA-CW.*FAIL" "$A_CON" | head -2
it_finish
