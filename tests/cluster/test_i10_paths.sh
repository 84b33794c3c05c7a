#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# I10 every path is registered before its first write, including a path
# that comes back later; a fence removes every nexus of the victim.
# The HA LUN has two paths, each through its own TCP forwarder (A, B).
#   - A is cut (forwarder stopped) for 6 s: the hosts go on over B; A comes
#     back; then B is cut: the hosts must now write over A, the path that
#     came back: a write there before the key is registered would end in
#     RESERVATION CONFLICT and the host would fence itself. Checked: both
#     hosts stay joined, nobody is fenced, hv1 heartbeats during both cuts;
#   - hv1 (running vm1) is frozen and fenced by hv2: afterwards no
#     registration of hv1's initiator name is left on the HA LUN or on the
#     VM disk, for any nexus (READ FULL STATUS), while hv2's are there.
source "$(dirname "$0")/cluster_lib.sh"
cl_init i10
CL_LOG_LEVEL=debug
cl_need_prc
cl_target 1
PA=$(free_port); PB=$(free_port)
python3 "$CL_HERE/tcp_proxy.py" "$PA" 127.0.0.1 "$CL_PORT" >/dev/null 2>&1 & FA=$!
python3 "$CL_HERE/tcp_proxy.py" "$PB" 127.0.0.1 "$CL_PORT" >/dev/null 2>&1 & FB=$!
echo "$FA $FB" >>"$IT_DIR/pids"
wait_port 127.0.0.1 "$PA" 10 && wait_port 127.0.0.1 "$PB" 10 || die "forwarders do not listen"
CL_HA_URL="$(cl_url 0 "$PA")
ha_lun = $(cl_url 0 "$PB")"
cl_config 2 1 heartbeat_interval=0.5 fail_after=4
cl_format
cl_host_start hv1; cl_host_start hv2
cl_ctl hv1 start vm1 >>"$CL_D/lockctl.log" 2>&1 || die "start vm1 on hv1 failed"
check "the guest writes" cl_wait_writes hv1 vm1 2 90
joined() { cl_lockctl dump 2>/dev/null | grep -c -E '^host [0-9]+ hv[12]: joined'; }
cut() {  # cut PID SECONDS: a black hole on that path
  local c0; c0=$(cl_count hv1 'heartbeat written')
  kill -STOP "$1"; sleep "$2"
  check "hv1 heartbeats while path $3 is cut" cl_count_gt hv1 'heartbeat written' $((c0 + 4))
  kill -CONT "$1"; sleep 2
  check "both hosts joined after the cut of path $3" [ "$(joined)" = 2 ]
}
cut "$FA" 6 A
cut "$FB" 6 B
check "hv1 never fenced itself" bash -c "! grep -q 'fenced (' '$CL_D/hv1.log'"
check "hv2 never fenced itself" bash -c "! grep -q 'fenced (' '$CL_D/hv2.log'"

Q1=$(cl_vm_pid hv1 vm1)
kill -STOP "${CL_PID[hv1]}" "$Q1"
check "hv2 fences hv1" wait_for 30 cl_state_is hv2 hv1 fenced
names() { "$PRC" status "$1" 2>/dev/null | tr ',' '\n' | sed -n 's/^iqn.2026-12.org.kura:\(hv[0-9]\)=.*/\1/p' | sort -u | tr '\n' ' '; }
check "no nexus of hv1 on the HA LUN ($(names "$(cl_url 0)"))" [ "$(names "$(cl_url 0)")" = "hv2 " ]
check "no nexus of hv1 on the VM disk ($(names "$(cl_url 1)"))" wait_for 20 bash -c "[ \"\$(\"$PRC\" status '$(cl_url 1)' | grep -c 'kura:hv1=')\" = 0 ]"
kill -CONT "$Q1" "${CL_PID[hv1]}"
it_finish
