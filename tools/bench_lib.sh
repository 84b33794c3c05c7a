# Shared by tools/kura-bench.sh and tools/kura-bench-storage.sh (sourced):
# free_port prints a free TCP port on 127.0.0.1 below the ephemeral range;
# wait_port PORT waits up to 10 s for a listener there; reap PID stops a
# daemon (SIGTERM, then SIGKILL after 0.5 s) and waits for it.
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
