#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Persistent reservations against the real daemon (client_pr.c, libiscsi):
#  1. APTPL crash loop: two initiators storm PROUT commands (register / reserve
#     / release / preempt / clear with changing keys, APTPL on every REGISTER);
#     kura-targetd is killed with SIGKILL at a random point (12 iterations).
#     After the restart READ FULL STATUS must equal the state after the last
#     acknowledged command, or the state the command in flight leads to (its
#     file may or may not have been renamed into place when the process died;
#     nothing else is acceptable: no older state, no mixture).
#  2. PREEMPT AND ABORT while the victim nexus keeps 8 writes of increasing
#     sequence numbers in flight to one block: once the PROUT returned, the
#     block must not change during a second of reads.
#  3. REGISTER AND MOVE and SPEC_I_PT end to end.
#  4. A corrupt state file: kura-targetd refuses to start and names the file;
#     with the good file back it starts and the reservations are intact.
source "$(dirname "$0")/lib.sh"
it_init pr_aptpl_kill
CLIENT=$(need_client pr)

P=$(free_port)
kura_start --listen 127.0.0.1:$P
URL=$(kura_url 127.0.0.1:$P 0)

for i in $(seq 1 12); do
  out=$IT_DIR/storm-$i.out
  "$CLIENT" storm "$URL" $((RANDOM + 1)) 1000000 >"$out" 2>"$IT_DIR/storm-$i.err" &
  cpid=$!; IT_PIDS+=($cpid)
  want=$((5 + RANDOM % 60))
  for t in $(seq 1 300); do
    [ "$(grep -c '^ACK' "$out")" -ge "$want" ] && break
    kill -0 $cpid 2>/dev/null || break
    sleep 0.02
  done
  sleep "0.0$((RANDOM % 10))"
  kura_kill9
  wait $cpid; crc=$?
  nack=$(grep -c '^ACK' "$out")
  last=$(tail -n 1 "$out")
  ack=$(grep '^ACK' "$out" | tail -n 1 | cut -c5-)
  next=$ack
  case $last in NEXT\ *) next=${last#NEXT } ;; esac
  kura_restart
  got=$("$CLIENT" status "$URL" 2>>"$IT_DIR/status.err")
  log "iteration $i: $nack acknowledged, client exit $crc; after restart: $got"
  check "iteration $i: the client was still storming when the target died" test "$crc" -ne 0 -a "$nack" -ge 5
  check "iteration $i: no model mismatch while running" bash -c "! grep -q MISMATCH '$IT_DIR/storm-$i.err'"
  check "iteration $i: restored state is the last acknowledged ('$ack') or the in-flight one ('$next')" \
    test "$got" = "$ack" -o "$got" = "$next"
done

check "PREEMPT AND ABORT: no write of the preempted nexus lands after the PROUT returned" \
  bash -c "'$CLIENT' paa '$URL' 1000 >'$IT_DIR/paa.out' 2>&1"
cat "$IT_DIR/paa.out"
check "REGISTER AND MOVE" bash -c "'$CLIENT' move '$URL' >'$IT_DIR/move.out' 2>&1"
cat "$IT_DIR/move.out"
check "SPEC_I_PT" bash -c "'$CLIENT' spec '$URL' >'$IT_DIR/spec.out' 2>&1"
cat "$IT_DIR/spec.out"

# a state worth keeping, then corrupt its file
check "set up a reservation with APTPL" "$CLIENT" hold "$URL"
before=$("$CLIENT" status "$URL")
check "it is there ($before)" test "$before" = "iqn.2026-11.org.kura:pr-a=a4*6,iqn.2026-11.org.kura:pr-b=b4"

check "kura-targetd stops cleanly" kura_stop
f=$(ls "$IT_DIR"/data/pr/*.pr 2>/dev/null | head -n 1)
check "the LU has a state file under data_dir/pr" test -n "$f"
cp "$f" "$IT_DIR/good.pr"
printf '\xff' | dd of="$f" bs=1 seek=60 conv=notrunc status=none
timeout 10 "$KURA_TARGETD" --foreground --data-dir "$IT_DIR/data" --listen 127.0.0.1:$P >"$IT_DIR/refused.log" 2>&1
rc=$?
cat "$IT_DIR/refused.log"
check "a corrupt state file: kura-targetd refuses to start (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check "the message names the file" grep -qF "$f" "$IT_DIR/refused.log"
cp "$IT_DIR/good.pr" "$f"
kura_restart
after=$("$CLIENT" status "$URL")
check "with the good file back, the state is intact ($after)" test "$after" = "$before"
kura_stop
it_finish
