# SPDX-License-Identifier: Apache-2.0
# Shared by tools/kura-bench.sh and tools/kura-bench-storage.sh (sourced):
# free_port prints a free TCP port on 127.0.0.1 below the ephemeral range;
# wait_port PORT waits up to 10 s for a listener there; reap PID stops a
# daemon (SIGTERM, then SIGKILL after 0.5 s) and waits for it;
# bench_help prints the usage comment at the top of the calling script;
# bench_limits prints the [limits] section both benchmarks give the daemon
# (the same iSCSI limits, so that their figures compare); bench_cleanup_kura
# stops the kura-targetd of $KPID and removes $WORK unless $KEEP is 1.
free_port() {
  local p
  while :; do
    p=$((10000 + (RANDOM * 32768 + RANDOM) % 22000))
    ss -Htan "sport = :$p" | grep -q . && continue
    python3 -c "import socket;s=socket.socket();s.bind(('127.0.0.1',$p))" 2>/dev/null && { echo $p; return; }
  done
}
wait_port() { local i; for i in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
reap() { kill -TERM "$1" 2>/dev/null || true; sleep 0.5; kill -9 "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
bench_help() { sed -n '2,/^set -e/p' "$1" | sed 's/^# \{0,1\}//; /^set -e/d'; }
bench_limits() {
  printf '%s\n' '[limits]' 'max_recv_data_segment_length = 262144' 'max_burst_length = 1048576' \
    'first_burst_length = 262144' 'initial_r2t = no' 'immediate_data = yes'
}
bench_cleanup_kura() {
  if [ -n "$KPID" ]; then reap "$KPID"; fi
  [ "$KEEP" = 1 ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
