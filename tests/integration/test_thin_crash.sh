#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crash consistency of a thin LUN through iSCSI: KURA_THIN_CRASH_CYCLES
# (default 100, as issue 4 asks) times, a libiscsi client runs a storm of random writes and
# UNMAPs (one in flight, each logged before it is sent and after GOOD) and
# kura-targetd is killed with SIGKILL at a random moment. After each restart
# every acknowledged write and UNMAP reads back (the one operation in flight
# at the kill may or may not have happened), and after a clean stop at the
# end kura-thin-check reports a consistent pool with no leaked chunks.
# Every 5th cycle also runs kura-thin-check right after the kill (pool closed).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/thin_lib.sh"
it_init thin_crash
CLIENT=$(need_client thin)
CYCLES=${KURA_THIN_CRASH_CYCLES:-100}
SPAN=4096          # 16 MiB of 4 KiB records, 256 chunks: writes collide, chunks get freed

P=$(free_port)
IQN=iqn.2026-11.org.kura:thincrash
thin_conf "$IQN" 32M 64M
U=iscsi://127.0.0.1:$P/$IQN/0
LOG=$IT_DIR/storm.log
D=$IT_DIR/data
thin_check() {
  local out
  out=$("$KURA_BUILD/tools/kura-thin-check" "$D/p.meta" "$D/p.data" 2>&1); local rc=$?
  echo "$out" >>"$IT_DIR/thin-check.log"
  [ $rc -eq 0 ] && grep -q "leaked 0" <<<"$out"
}

kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
for c in $(seq 1 "$CYCLES"); do
  "$CLIENT" "$U" storm "$LOG" $SPAN >>"$IT_DIR/storm.out" 2>&1 &
  SP=$!
  IT_PIDS+=("$SP")
  sleep "0.$(( 3 + RANDOM % 7 ))"
  kura_kill9
  wait "$SP" 2>/dev/null
  if [ $((c % 5)) = 0 ]; then
    check "cycle $c: kura-thin-check after SIGKILL: consistent, no leaks" thin_check
  fi
  kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
  out=$("$CLIENT" "$U" verify "$LOG" $SPAN 2>&1)
  log "cycle $c: $(grep verified <<<"$out") ($(grep -c '^A' "$LOG") acknowledged operations so far)"
  check "cycle $c: every acknowledged write / unmap reads back" grep -q " bad=0 " <<<"$out"
done
check "the storms acknowledged work ($(grep -c '^A' "$LOG") operations)" test "$(grep -c '^A' "$LOG")" -gt $((CYCLES * 10))
check "clean stop" kura_stop
check "kura-thin-check after the last stop: consistent, no leaks" thin_check
it_finish
