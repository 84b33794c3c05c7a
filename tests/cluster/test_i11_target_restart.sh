#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# I11 fences survive a kill -9 and restart of kura-targetd (APTPL). hv1 runs
# vm1 and is frozen (SIGSTOP of its daemon and QEMU); hv2 fences it and
# restarts vm1. kura-targetd is then killed (-9) and started again. Checked
# after the restart:
#   - the VM disk's registrations name hv2 only, the HA LUN's registered keys
#     do not include hv1's fenced key;
#   - hv1's QEMU alone is resumed (its daemon stays frozen, so nothing kills
#     it): its guest reconnects, and not one of its writes lands (the blocks
#     carrying its tag are those there at the fence), no verified write;
#   - hv2's guest writes on after the restart (hv2's registration survived),
#     and hv2 stays joined: the power-on unit attentions every session gets
#     after the restart are consumed, not taken for a fence (I9);
#   - hv1's daemon, resumed last, reports itself fenced and kills its QEMU.
source "$(dirname "$0")/cluster_lib.sh"
cl_init i11
cl_need_prc
cl_cluster 2
check "hv1's guest writes" cl_wait_writes hv1 vm1 3 90
A_CON=$(cl_console hv1 vm1)
A_TAG=$(grep -ao 'KURA-CW ready tag [^ ]*' "$A_CON" | tail -1 | awk '{print $4}')
A_QEMU=$(cl_vm_pid hv1 vm1)
A_KEY=$(cl_host_key hv1)
kill -STOP "${CL_PID[hv1]}" "$A_QEMU"
check "hv2 fences hv1" wait_for 30 cl_state_is hv2 hv1 fenced
check "hv2 runs vm1" wait_for 30 bash -c "[ \"\$(\"$LOCKCTL\" -c \"$CONF\" --host hv2 status | awk '\$2 == \"vm1\" {print \$4}')\" = hv2 ]"
check "hv2's guest writes" cl_wait_writes hv2 vm1 2 90
cl_lun_scan 1 | awk -v t="$A_TAG" '$1 == t' | sort >"$CL_D/a_at_fence"

log "kill -9 and restart of kura-targetd"
kura_kill9
kura_restart
names() { "$PRC" status "$(cl_url 1)" 2>/dev/null | grep -o 'kura:hv[0-9]' | sort -u | tr '\n' ' '; }
check "VM disk registrations after the restart: hv2 only ($(names))" [ "$(names)" = "kura:hv2 " ]
check "hv1's fenced key $A_KEY is not on the HA LUN" bash -c "! \"$LOCKCTL\" -c '$CONF' dump | grep -q 'registered keys:.*$A_KEY'"
A_OK=$(cl_writes "$A_CON")
kill -CONT "$A_QEMU"
sleep 8
check "hv2's guest writes after the restart" cl_wait_writes hv2 vm1 3 60
check "hv2 still joined after the restart (its unit attentions consumed, I9)" \
  bash -c "\"$LOCKCTL\" -c '$CONF' dump | grep -q '^host 2 hv2: joined'"
cl_lun_scan 1 | awk -v t="$A_TAG" '$1 == t' | sort >"$CL_D/a_after"
NEW=$(comm -13 "$CL_D/a_at_fence" "$CL_D/a_after" | wc -l)
check "no write of the fenced guest landed after the target restart ($NEW)" [ "$NEW" = 0 ]
LATE=$(cl_late_oks "$A_CON" "$A_OK" "$CL_D/a_at_fence")
check "the fenced guest verified no write after the fence ($LATE; $(( $(cl_writes "$A_CON") - A_OK )) in flight at the freeze)" [ "$LATE" = 0 ]
check "the fenced guest did try to write ($(grep -ac 'KURA-CW.*FAIL write' "$A_CON") refused)" \
  grep -aq 'KURA-CW.*FAIL write' "$A_CON"
kill -CONT "${CL_PID[hv1]}"
check "hv1's daemon kills its QEMU" wait_for 15 bash -c "! kill -0 $A_QEMU 2>/dev/null"
check "hv1 reports itself fenced" wait_for 10 cl_state_is hv1 hv1 fenced
it_finish
