#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# I4 a fenced key never reappears; rejoining needs a new incarnation.
#   - hv1 runs vm1 and is frozen (SIGSTOP); hv2 fences it. hv1 is resumed:
#     its daemon reports itself fenced and does not register again by
#     itself (sampled for 5 s);
#   - `kura-lockctl join hv1` gives hv1 a new incarnation and a new key;
#     vm1 started on hv1 again registers that new key only;
#   - the fenced key is sampled on the HA LUN and the VM disk every 0.3 s
#     from the fence to the end: it never shows up;
#   - bad input: a second kura-lockd for hv2 while hv2 lives is refused at
#     join (exit 3), and hv2 is not disturbed.
source "$(dirname "$0")/cluster_lib.sh"
cl_init i4
cl_need_prc
cl_cluster 2
K1=$(cl_host_key hv1)
INC1=$(cl_json hv2 "hosts['hv1']['incarnation']")
A_QEMU=$(cl_vm_pid hv1 vm1)
kill -STOP "${CL_PID[hv1]}" "$A_QEMU"
check "hv2 fences hv1" wait_for 30 cl_state_is hv2 hv1 fenced

keys() {  # every registered key on the HA LUN and the VM disk
  "$LOCKCTL" -c "$CONF" dump 2>/dev/null | grep 'registered keys' | grep -o '[0-9a-f]\{16\}'
  cl_regs "$(cl_url 1)" | awk '{print $2}'
}
sampler() { while [ ! -f "$CL_D/stop" ]; do keys >>"$CL_D/keys"; sleep 0.3; done; }
sampler & SAMP=$!
kill -CONT "$A_QEMU" "${CL_PID[hv1]}"
check "hv1 reports itself fenced" wait_for 10 cl_state_is hv1 hv1 fenced
sleep 5
check "hv1 stays fenced by itself" cl_state_is hv1 hv1 fenced
check "hv1 runs no QEMU" [ "$(cl_vm_pid hv1 vm1)" = 0 ]
cl_ctl hv1 join hv1 >>"$CL_D/lockctl.log" 2>&1
check "join hv1 exits 0" [ $? = 0 ]
check "hv2 sees hv1 alive again" wait_for 10 cl_state_is hv2 hv1 alive
INC2=$(cl_json hv2 "hosts['hv1']['incarnation']")
K2=$(cl_host_key hv1)
check "new incarnation ($INC1 -> $INC2) and key ($K1 -> $K2)" [ "$INC2" -gt "$INC1" ] && [ "$K1" != "$K2" ]
cl_ctl hv2 stop vm1 >>"$CL_D/lockctl.log" 2>&1
check "vm1 starts on hv1 again" cl_ctl hv1 start vm1
has_reg() { cl_regs "$(cl_url 1)" | grep -qx "$1"; }
check "the VM disk holds hv1's new key" has_reg "iqn.2026-12.org.kura:hv1 $K2"
sleep 1
touch "$CL_D/stop"; wait $SAMP
check "the fenced key $K1 never reappeared ($(wc -l <"$CL_D/keys") keys sampled)" \
  bash -c "[ -s '$CL_D/keys' ] && ! grep -q '$K1' '$CL_D/keys'"

# bad input: the id of a live host
"$LOCKD" -c "$CONF" --host hv2 --foreground --socket "$CL_D/dup.sock" --state-dir "$CL_D/dup" \
  >"$CL_D/dup.log" 2>&1 & DUP=$!
echo $DUP >>"$CL_D/pids"
wait_for 15 bash -c "! kill -0 $DUP 2>/dev/null"; wait $DUP; RC=$?
check "a second hv2 is refused at join (exit $RC: $(tail -1 "$CL_D/dup.log"))" [ "$RC" = 3 ]
check "hv2 is undisturbed" cl_state_is hv1 hv2 alive
it_finish
