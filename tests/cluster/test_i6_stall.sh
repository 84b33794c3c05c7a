#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# I6 storage stalls fence nobody. Two hosts, vm1 writing on hv1; the HA LUN
# has two paths: one through a TCP forwarder (tcp_proxy.py), one direct.
#   B. (first) the forwarded path is cut (forwarder SIGSTOPped: a black
#      hole) for 12 s with the default timings: the hosts fail over to the
#      direct path; nobody is fenced, hv1's heartbeats go on.
#   A. kura-targetd is stopped (SIGSTOP) for 30 s: every host loses every
#      path at once. Afterwards no slot is FENCING/FENCED, both hosts are
#      alive, vm1 still runs on hv1 and its guest writes again.
# Checks read the HA LUN itself (kura-lockctl dump --json).
source "$(dirname "$0")/cluster_lib.sh"
cl_init i6
CL_LOG_LEVEL=debug
STALL=${KURA_I6_STALL:-30}
CUT=12               # longer than fail_after (10 s): a path stuck that long would fence
if [ "$CL_ASAN" = 1 ] && [ -z "${KURA_I6_STALL:-}" ]; then
  STALL=12             # still longer than fail_after (10 s)
  log "ASan build: reduced run, stall $STALL s (30 s in the gcc build)"
fi
cl_target 1
PROXY_PORT=$(free_port)
python3 "$CL_HERE/tcp_proxy.py" "$PROXY_PORT" 127.0.0.1 "$CL_PORT" >"$IT_DIR/proxy.log" 2>&1 &
PROXY=$!
echo $PROXY >>"$IT_DIR/pids"
wait_port 127.0.0.1 "$PROXY_PORT" 10 || die "the forwarder does not listen"
CL_HA_URL="$(cl_url 0 "$PROXY_PORT")
ha_lun = $(cl_url 0)"
cl_config 2 1
cl_format
cl_host_start hv1; cl_host_start hv2
cl_ctl hv1 start vm1 >>"$CL_D/lockctl.log" 2>&1 || die "start vm1 on hv1 failed"
check "the guest writes on hv1" cl_wait_writes hv1 vm1 2 90

# nobody_fenced: the HA LUN shows no FENCING/FENCED slot and both hosts joined
nobody_fenced() {
  cl_lockctl dump --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
st = [h.get("state") for h in d.get("hosts", d.get("slots", []))]
sys.exit(0 if st.count("joined") == 2 and not any(s in ("fencing", "fenced") for s in st) else 1)'
}
check "before: both hosts joined, nobody fenced" nobody_fenced

log "B: the forwarded path cut for $CUT s"
C0=$(cl_count hv1 'heartbeat written')
N_PROXY=$(ss -Htn state established "( dport = :$PROXY_PORT )" | wc -l)
check "B: the forwarded path carries sessions before the cut ($N_PROXY)" [ "$N_PROXY" -gt 0 ]
kill -STOP "$PROXY"; sleep "$CUT"
check "B: hv1 heartbeats over the other path during the cut" cl_count_gt hv1 'heartbeat written' $((C0 + CUT / 2))
kill -CONT "$PROXY"; sleep 3
check "B: nobody fenced after a path cut" nobody_fenced
check "B: hv2 sees hv1 alive" cl_state_is hv2 hv1 alive
check "B: the guest still writes" cl_wait_writes hv1 vm1 2 30

log "A: kura-targetd stopped for $STALL s"
kill -STOP "$KURA_PID"; sleep "$STALL"; kill -CONT "$KURA_PID"
sleep 8
check "A: nobody fenced after a $STALL s stall of every path" nobody_fenced
check "A: hv2 sees hv1 alive" cl_state_is hv2 hv1 alive
check "A: hv1 sees hv2 alive" cl_state_is hv1 hv2 alive
check "A: vm1 still runs on hv1" [ "$(cl_json hv1 "vms['vm1']['state']")" = running ]
check "A: the guest writes again" cl_wait_writes hv1 vm1 2 60

it_finish
