#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# drain: maintenance without switching HA off (issue 10, item 10). Three
# hosts; vm1 writes on hv1, vm2 on hv2.
#   - `drain hv1` moves vm1 to hv2 (placement rule) without a lost write (the
#     guest's sequence numbers, over both consoles, have no gap and no
#     FAIL), then hv1 is LEAVING on the HA LUN and shown drained;
#   - hv1's daemon stops (the "reboot"); it is not fenced, vm1 is not
#     restarted twice;
#   - during that window hv2 crashes (kill -9 of its daemon and QEMUs): hv3
#     fences hv2 and restarts both VMs (HA stayed armed);
#   - hv1 starts again and joins with a new incarnation.
source "$(dirname "$0")/cluster_lib.sh"
cl_init drain
cl_target 2
cl_config 3 2 heartbeat_interval=0.5 fail_after=4
cl_format
cl_host_start hv1; cl_host_start hv2; cl_host_start hv3
cl_ctl hv1 start vm1 >>"$CL_D/lockctl.log" 2>&1 || die "start vm1 on hv1 failed"
cl_ctl hv2 start vm2 >>"$CL_D/lockctl.log" 2>&1 || die "start vm2 on hv2 failed"
check "vm1 writes on hv1" cl_wait_writes hv1 vm1 3 90
check "vm2 writes on hv2" cl_wait_writes hv2 vm2 3 90
INC1=$(cl_json hv3 "hosts['hv1']['incarnation']")
TAG1=$(grep -ao 'KURA-CW ready tag [^ ]*' "$(cl_console hv1 vm1)" | tail -1 | awk '{print $4}')

slot_state() {  # slot_state HOST: its state on the HA LUN
  cl_lockctl dump --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(next((h["state"] for h in d["hosts"] if h.get("name") == sys.argv[1]), "?"))' "$1"
}
T0=$(now_ms)
cl_lockctl drain hv1 >"$CL_D/drain.out" 2>&1; RC=$?
log "drain hv1: exit $RC in $(( $(now_ms) - T0 )) ms: $(tr '\n' ' ' <"$CL_D/drain.out")"
check "drain exits 0" [ "$RC" = 0 ]
check "vm1 now on hv2" [ "$(cl_json hv3 "vms['vm1']['owner']")" = hv2 ]
check "hv1 is LEAVING on the HA LUN" [ "$(slot_state hv1)" = leaving ]
# Another host's status is its view, refreshed at each of its heartbeats.
drained_seen() { [ "$(cl_json hv3 "hosts['hv1']['drained']")" = True ]; }
check "status shows hv1 drained" wait_for 5 drained_seen
check "vm1 writes on hv2" cl_wait_writes hv2 vm1 3 30
SEQS=$(cat "$(cl_console hv1 vm1)" "$(cl_console hv2 vm1)" | tr -d '\r' | \
       awk -v t="$TAG1" '$1 == "KURA-CW" && $3 == t && $8 == "ok" {print $5}' | sort -n | uniq)
GAPS=$(echo "$SEQS" | awk 'NR > 1 && $1 != p + 1 {g++} {p = $1} END {print g + 0}')
check "no write lost across the hand-over (seq 1..$(echo "$SEQS" | tail -1), $GAPS gaps)" \
  [ "$GAPS" = 0 ] && [ "$(echo "$SEQS" | head -1)" = 1 ]
check "no FAIL in vm1's guest" bash -c "! grep -aq 'KURA-CW.*FAIL' $CL_D/hv*/vm1.log"

log "hv1 stops for its update"
cl_host_kill9 hv1
sleep 6                                      # > fail_after
check "hv1 (LEAVING, silent) is not fenced" [ "$(slot_state hv1)" = leaving ]
check "vm1 is not restarted twice (one QEMU, on hv2)" [ "$(cl_json hv3 "vms['vm1']['owner']")" = hv2 ]
log "hv2 crashes while hv1 is away"
T1=$(now_ms)
cl_host_kill9 hv2
check "hv3 fences hv2" wait_for 30 bash -c "[ \"\$(\"$LOCKCTL\" -c '$CONF' dump --json | grep -o '\"name\": \"hv2\", \"state\": \"fenced\"')\" ]"
check "vm1 restarted on hv3" wait_for 30 bash -c "[ \"\$(\"$LOCKCTL\" -c '$CONF' --host hv3 status | awk '\$2 == \"vm1\" {print \$4}')\" = hv3 ]"
check "vm2 restarted on hv3" wait_for 30 bash -c "[ \"\$(\"$LOCKCTL\" -c '$CONF' --host hv3 status | awk '\$2 == \"vm2\" {print \$4}')\" = hv3 ]"
log "hv2's VMs on hv3 $(( $(now_ms) - T1 )) ms after the crash"
check "hv1 still LEAVING, not fenced" [ "$(slot_state hv1)" = leaving ]
cl_host_start hv1
check "hv1 joins again" wait_for 10 cl_state_is hv3 hv1 alive
INC2=$(cl_json hv3 "hosts['hv1']['incarnation']")
check "hv1 has a new incarnation ($INC1 -> $INC2)" [ "$INC2" -gt "$INC1" ]
check "vm1 and vm2 write on hv3" cl_wait_writes hv3 vm2 2 90
it_finish
