# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the cluster-lock tests (sourced, bash). A "cluster" here
# is one kura-targetd on loopback (reused from tests/integration/lib.sh)
# serving an HA LUN and VM disks, N kura-lockd "hosts" on this machine with
# their own initiator names, sockets and state directories, and tiny QEMU
# TCG guests in the cluster-writer mode of vm/guest-init.sh.
#
#   source "$(dirname "$0")/cluster_lib.sh"
#   cl_init i7                         # exit 77 without QEMU / guest / binaries
#   cl_target 2                        # target with LUN 0 (HA) + LUNs 1..2 (VM disks)
#   cl_config 3 2 [KEY=VALUE...]       # hv1..hv3, vm1..vm2, [cluster] overrides
#   cl_format; cl_host_start hv1; ...
#   cl_ctl hv1 status --json           # kura-lockctl -c CONF --host hv1 ...
#
# Not for: assertions of one invariant (the test_*.sh scripts).
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../integration/lib.sh"
CL_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CL_IQN=iqn.2026-12.org.kura:cluster
declare -A CL_PID=()

cl_init() {
  it_init "$1"
  LOCKD=${KURA_LOCKD:-$KURA_BUILD/cluster-lock/kura-lockd}
  LOCKCTL=${KURA_LOCKCTL:-$KURA_BUILD/cluster-lock/kura-lockctl}
  [ -x "$LOCKD" ] && [ -x "$LOCKCTL" ] || skip "kura-lockd / kura-lockctl not built"
  need_cmd qemu-system-x86_64 python3 qemu-img
  local g rc
  # one build at a time: parallel tests would race on a first download
  g=$(flock "${TMPDIR:-/tmp}/kura-build-guest.lock" "$CL_HERE/../integration/vm/build-guest.sh" \
        2>"$IT_DIR/build-guest.log"); rc=$?
  [ $rc -eq 77 ] && skip "cannot build the guest: $(grep build-guest: "$IT_DIR/build-guest.log" | tail -1)"
  [ $rc -eq 0 ] || { cat "$IT_DIR/build-guest.log"; die "vm/build-guest.sh failed ($rc)"; }
  CL_KERNEL=$(echo "$g" | sed -n 's/^KERNEL=//p'); CL_INITRD=$(echo "$g" | sed -n 's/^INITRD=//p')
  CL_ASAN=0
  grep -q '^KURA_SANITIZE:BOOL=ON' "$KURA_BUILD/CMakeCache.txt" 2>/dev/null && CL_ASAN=1
  CL_D=$IT_DIR
  trap cl_cleanup EXIT
}

# Every daemon pid of every (sub)cluster is in a file $CL_D/pids: the EXIT
# trap finds them even when subshells started them.
cl_cleanup() {
  local p
  exec 2>/dev/null          # no "Killed" job notices for what is killed below
  for p in $(cat "$IT_DIR"/pids "$IT_DIR"/*/pids 2>/dev/null); do
    kill -CONT "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null
  done
  for p in $(cl_qemu_pids_all); do kill -CONT "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
  for p in $(cat "$IT_DIR"/pids "$IT_DIR"/*/pids 2>/dev/null); do wait "$p" 2>/dev/null; done
  it_cleanup
}

# it_dump_extra: on failure (it_finish), the tail of every host's kura-lockd
# log and of every VM console, so a CI log shows what the hosts and guests did.
it_dump_extra() {
  local f
  for f in "$CL_D"/hv*.log "$CL_D"/hv*/vm*.log; do
    [ -f "$f" ] || continue
    echo "---- last 15 lines of ${f#"$CL_D"/} ----"
    tail -n 15 "$f" | tr -d '\r'
  done
}

# cl_target NVMS [PORTAL...]: kura-targetd with the HA LUN (lun 0) and NVMS
# VM disks (lun 1..NVMS); portals default to one free port on 127.0.0.1.
cl_target() {
  local n=$1 i; shift
  CL_PORT=$(free_port)
  {
    echo "[global]"; echo "data_dir = $IT_DIR/data"
    echo "[portal p1]"; echo "address = 127.0.0.1:$CL_PORT"
    echo "[target $CL_IQN]"
    echo "[lun 0]"; echo "backend = file"; echo "path = ha.img"; echo "size = 16M"; echo "create = yes"
    for i in $(seq 1 "$n"); do
      echo "[lun $i]"; echo "backend = file"; echo "path = vm$i.img"; echo "size = 16M"; echo "create = yes"
    done
  } >"$IT_DIR/kura.conf"
  kura_start -c "$IT_DIR/kura.conf" --listen "127.0.0.1:$CL_PORT"
}

cl_url() { echo "iscsi://127.0.0.1:${2:-$CL_PORT}/$CL_IQN/$1"; }

# cl_config NHOSTS NVMS [KEY=VALUE...]: $CL_D/cluster.conf; KEY=VALUE go to
# [cluster] (e.g. fail_after=3), or to every [vm] when KEY starts with vm.
# The HA LUN is lun CL_HA_LUN (0), vmI's disk lun CL_VM_BASE + I (0 + I);
# a sub-cluster sets CL_D (its own directory) and these two.
cl_config() {
  local nh=$1 nv=$2 i kv; shift 2
  mkdir -p "$CL_D"
  CONF=$CL_D/cluster.conf
  {
    echo "[cluster]"; echo "name = test-$IT_NAME-${CL_HA_LUN:-0}"
    echo "ha_lun = ${CL_HA_URL:-$(cl_url "${CL_HA_LUN:-0}")}"
    for kv in "$@"; do case $kv in vm.*) ;; *) echo "${kv%%=*} = ${kv#*=}" ;; esac; done
    for i in $(seq 1 "$nh"); do
      echo "[host hv$i]"; echo "id = $i"; echo "initiator = iqn.2026-12.org.kura:hv$i"
      echo "address = 127.0.0.1"; echo "socket = $CL_D/hv$i.sock"; echo "state_dir = $CL_D/hv$i"
    done
    for i in $(seq 1 "$nv"); do
      echo "[vm vm$i]"; echo "disks = $(cl_url $(( ${CL_VM_BASE:-0} + i )))"
      echo "qemu = -accel tcg -m 128 -nographic -monitor none -nic none -no-reboot" \
           "-kernel $CL_KERNEL -initrd $CL_INITRD" \
           "-append \"console=ttyS0 quiet panic=-1 no_timer_check kura.mode=cluster kura.pause=${CL_PAUSE:-200}${CL_APPEND:+ $CL_APPEND}\""
      echo "ha = yes"
      for kv in "$@"; do case $kv in vm.*) kv=${kv#vm.}; echo "${kv%%=*} = ${kv#*=}" ;; esac; done
    done
  } >"$CONF"
}

cl_lockctl() { "$LOCKCTL" -c "$CONF" "$@"; }
cl_ctl() { local h=$1; shift; "$LOCKCTL" -c "$CONF" --host "$h" "$@"; }
cl_format() { cl_lockctl format --force >>"$CL_D/lockctl.log" 2>&1 || die "kura-lockctl format failed: $(tail -2 "$CL_D/lockctl.log")"; }

# cl_need_prc: PRC, the PR client the tests read registrations with.
cl_need_prc() {
  PRC=$IT_CLIENTS/kura-it-client_pr
  [ -x "$PRC" ] || skip "kura-it-client_pr not built"
}

# cl_regs URL: one "INITIATOR KEY" line per registration on URL's LUN, the
# key as 16 hex digits like kura-lockd logs it (kura-it-client_pr prints it
# without leading zeros: a cluster tag below 0x1000 gives a shorter key).
cl_regs() {
  local r
  "$PRC" status "$1" 2>/dev/null | tr ',' '\n' | while IFS= read -r r; do
    [ -n "$r" ] && printf '%s %016x\n' "${r%%=*}" "0x$(echo "${r#*=}" | cut -d'*' -f1)"
  done
}

# cl_cluster N [KEY=VALUE...]: the start most invariant tests share: one VM
# LUN, hosts hv1..hvN with 0.5 s heartbeats and fail_after 4 s (plus the
# keys given, as cl_config takes them), the HA LUN formatted, every host
# joined, vm1 started on hv1.
cl_cluster() {
  local n=$1 i
  shift
  cl_target 1
  cl_config "$n" 1 heartbeat_interval=0.5 fail_after=4 "$@"
  cl_format
  for i in $(seq 1 "$n"); do cl_host_start "hv$i"; done
  cl_ctl hv1 start vm1 >>"$CL_D/lockctl.log" 2>&1 || die "start vm1 on hv1 failed"
}

# cl_host_key HOST: HOST's current PR key, from its daemon's log.
cl_host_key() { grep -ao 'key [0-9a-f]\{16\}' "$CL_D/$1.log" | tail -1 | awk '{print $2}'; }

# cl_host_start hvN: start its kura-lockd; waits for its control socket.
cl_host_start() {
  local h=$1 i
  mkdir -p "$CL_D/$h"
  rm -f "$CL_D/$h.sock"
  echo "==== start $(date +%T.%N)" >>"$CL_D/$h.log"
  "$LOCKD" -c "$CONF" --host "$h" --foreground --log-level "${CL_LOG_LEVEL:-info}" \
    >>"$CL_D/$h.log" 2>&1 &
  CL_PID[$h]=$!
  echo "${CL_PID[$h]}" >>"$CL_D/pids"
  for i in $(seq 1 100); do
    [ -S "$CL_D/$h.sock" ] && return 0
    kill -0 "${CL_PID[$h]}" 2>/dev/null || { tail -5 "$CL_D/$h.log"; die "kura-lockd $h exited at start"; }
    sleep 0.1
  done
  die "kura-lockd $h: no control socket after 10 s"
}

# cl_vm_pid HOST VM: the QEMU pid HOST's daemon reports for VM (0 = none).
cl_vm_pid() {
  cl_ctl "$1" status --json 2>/dev/null | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except Exception:
    print(0); sys.exit()
print(next((v["pid"] for v in d["vms"] if v["name"] == sys.argv[1]), 0))' "$2"
}

# cl_json HOST EXPR: evaluate a python expression over HOST's status --json (d).
cl_json() {
  cl_ctl "$1" status --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
hosts = {h["name"]: h for h in d["hosts"]}
vms = {v["name"]: v for v in d["vms"]}
print(eval(sys.argv[1]))' "$2"
}

cl_qemu_pids_all() { pgrep -f "qemu-system-x86_64.*-qmp unix:$IT_DIR/" 2>/dev/null; }

# cl_host_kill9 HOST: kill -9 its daemon and its QEMUs (a host crash).
cl_host_kill9() {
  local h=$1 p
  for p in $(pgrep -f "qemu-system-x86_64.*-qmp unix:$CL_D/$h/"); do kill -9 "$p"; done
  kill -9 "${CL_PID[$h]}" 2>/dev/null
  wait "${CL_PID[$h]}" 2>/dev/null
  unset "CL_PID[$h]"
}

# cl_log_ms HOST REGEX: time of day (ms) of the last line of HOST's daemon
# log matching REGEX (the daemon stamps HH:MM:SS.mmm); empty if none.
cl_log_ms() {
  grep -a -E "$2" "$CL_D/$1.log" | tail -n 1 | \
    awk '{split($1, t, "[:.]"); if (t[4] != "") print ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000 + t[4]}'
}
cl_count() { local n; n=$(grep -a -c -E "$2" "$CL_D/$1.log" 2>/dev/null); echo "${n:-0}"; }
cl_count_gt() { [ "$(cl_count "$1" "$2")" -gt "$3" ]; }

# cl_console HOST VM: the console log of VM's QEMU on HOST.
cl_console() { echo "$CL_D/$1/$2.log"; }

# cl_writes FILE: how many verified writes a console log shows.
cl_writes() { local n; n=$(grep -ac 'KURA-CW tag [^ ]* seq [0-9]* blk [0-9]* ok' "$1" 2>/dev/null); echo "${n:-0}"; }
cl_writes_gt() { [ "$(cl_writes "$1")" -gt "$2" ]; }
# cl_wait_writes HOST VM N SECONDS: until N more verified writes in that console.
cl_wait_writes() {
  local f; f=$(cl_console "$1" "$2")
  wait_for "$4" cl_writes_gt "$f" $(( $(cl_writes "$f") + $3 - 1 ))
}
# cl_state_is OBSERVER HOST STATE: OBSERVER's status shows HOST in STATE.
cl_state_is() { [ "$(cl_json "$1" "hosts['$2']['state']" 2>/dev/null)" = "$3" ]; }

# wait_for SECONDS CMD...: poll CMD every 0.1 s.
wait_for() {
  local t=$1 end; shift
  end=$(( $(now_ms) + t * 1000 ))
  while [ "$(now_ms)" -lt "$end" ]; do "$@" && return 0; sleep 0.1; done
  return 1
}
now_ms() { date +%s%3N; }

# cl_lun_scan LUN: every cluster-writer block on a VM disk, as "tag seq" lines.
cl_lun_scan() {
  local out=$CL_D/scan-$1.raw
  qemu-img convert -f raw -O raw "$(cl_url "$1")" "$out" || return 1
  python3 - "$out" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read()
for off in range(0, len(data), 4096):
    m = re.match(rb"KURA-CW tag (\S+) +seq (\d+) blk (\d+)", data[off:off + 64])
    if m:
        print(m.group(1).decode(), int(m.group(2)), int(m.group(3)), off // 4096)
PY
}

# cl_crash_trials K N: N host-crash trials in a two-host sub-cluster K with
# the default timings (I7 and tools/kura-ha-bench.sh). The owner of vm1 is
# killed (-9, daemon and QEMU); then the survivor restarts vm1; the victim's
# daemon is started again (new incarnation) and the next trial kills the
# other host. One line per trial in $CL_D/times:
#   RESTART_MS FIRST_WRITE_MS
# both from the victim's last heartbeat (its daemon's "heartbeat written",
# debug level) to the survivor's "QEMU pid N started", resp. to the first
# verified write seen on the survivor's console (polled every 0.1 s; -1
# when not awaited: only the last trial, or every one with CL_EVERY_WRITE=1).
cl_crash_trials() {
  local k=$1 n=$2 t own=hv1 sur=hv2 pid f base starts hb st dt first
  CL_D=$IT_DIR/c$k CL_HA_LUN=$((2 * k)) CL_VM_BASE=$((2 * k)) CL_LOG_LEVEL=debug
  cl_config 2 1
  cl_format
  cl_host_start hv1; cl_host_start hv2
  cl_ctl hv1 start vm1 >>"$CL_D/lockctl.log" 2>&1 || die "c$k: start vm1 failed"
  cl_wait_writes hv1 vm1 2 120 || die "c$k: the guest on hv1 does not write"
  for t in $(seq 1 "$n"); do
    f=$(cl_console $sur vm1); base=$(cl_writes "$f")
    starts=$(cl_count $sur 'vm vm1: QEMU pid [0-9]+ started')
    cl_host_kill9 $own
    dt=999999; first=-1; hb=$(cl_log_ms $own 'heartbeat written')
    if wait_for 60 cl_count_gt $sur 'vm vm1: QEMU pid [0-9]+ started' "$starts"; then
      st=$(cl_log_ms $sur 'vm vm1: QEMU pid [0-9]+ started')
      dt=$(( (st - hb + 86400000) % 86400000 ))
    fi
    if [ "$t" = "$n" ] || [ -n "${CL_EVERY_WRITE:-}" ]; then
      first=999999
      wait_for 120 cl_writes_gt "$f" "$base" && \
        first=$(( ($(date +%s%3N) % 86400000 - hb + 86400000) % 86400000 ))
    fi
    pid=$(grep -a -o 'vm vm1: QEMU pid [0-9]* started' "$CL_D/$sur.log" | tail -n 1 | awk '{print $5}')
    echo "$dt $first" >>"$CL_D/times"
    echo "[c$k trial $t] $own killed: vm1 (pid $pid) started on $sur $dt ms after $own's last heartbeat; first verified write at $first ms"
    cl_host_start $own
    wait_for 20 cl_state_is $sur $own alive || log "c$k: $own does not show alive after its restart"
    t=$own; own=$sur; sur=$t
  done
}

# cl_oks_after CONSOLE N: "tag seq" of the verified writes after the first N.
cl_oks_after() {
  tr -d '\r' <"$1" | awk '$1 == "KURA-CW" && $2 == "tag" && $8 == "ok" {print $3, $5}' | tail -n +$(( $2 + 1 ))
}
# cl_late_oks CONSOLE N AT_FENCE: how many verified writes after the first N
# are not among the blocks on the disk at the fence (AT_FENCE: cl_lun_scan
# lines). A write in flight when its host froze may land before the fence
# and be verified (read back) after the resume: that one is on the disk at
# the fence; any other is a write that landed after the fence.
cl_late_oks() {
  local n=0 tag seq
  while read -r tag seq; do
    awk -v t="$tag" -v q="$seq" '$1 == t && $2 == q {f = 1} END {exit !f}' "$3" || n=$((n + 1))
  done < <(cl_oks_after "$1" "$2")
  echo "$n"
}
