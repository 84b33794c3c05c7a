#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Acknowledged writes survive kill -9 of the target.
# Phase 1: WRITE(16) FUA=1 one record at a time; phase 2: plain WRITE(16)s in
# batches followed by SYNCHRONIZE CACHE(10). The client (client_durable.c)
# prints an LBA only after the target acknowledged it (for phase 2: after the
# SYNCHRONIZE CACHE covering it). The daemon is killed with SIGKILL mid-stream,
# restarted, and every acknowledged record must read back with its content.
# Note: SIGKILL of the daemon does not drop the host page cache, so this proves
# that kura acknowledges only writes it has handed to the kernel/backing store
# (no user-space write-back cache losing acknowledged data); power-loss
# durability (fdatasync on FUA) is covered by the backend's unit tests.
source "$(dirname "$0")/lib.sh"
it_init crash_fua
CLIENT=$(need_client durable)

P=$(free_port)
kura_start --listen 127.0.0.1:$P
URL=$(kura_url 127.0.0.1:$P 0)
TAG=run$$

crash_phase() {  # name mode first_lba extra...
  local name=$1 mode=$2 first=$3; shift 3
  local acked=$IT_DIR/acked-$name.txt
  "$CLIENT" "$URL" "$mode" "$TAG-$name" "$first" 1000000 "$@" >"$acked" 2>"$IT_DIR/client-$name.err" &
  local cpid=$!; IT_PIDS+=($cpid)
  # let it get going: wait for at least 200 acknowledged records (max 30 s)
  local i
  for i in $(seq 1 300); do
    [ "$(wc -l <"$acked")" -ge 200 ] && break
    kill -0 $cpid 2>/dev/null || break
    sleep 0.1
  done
  sleep 0.3
  kura_kill9
  wait $cpid; local crc=$?
  local n; n=$(wc -l <"$acked")
  log "$name: client exit $crc after $n acknowledged records"
  check "$name: client was writing when the target died (exit != 0)" test "$crc" -ne 0
  check "$name: at least 200 records acknowledged before the crash" test "$n" -ge 200
  kura_restart
  check "$name: every acknowledged record reads back" \
    bash -c "'$CLIENT' '$URL' verify '$TAG-$name' <'$acked' >'$IT_DIR/verify-$name.out' 2>&1"
  cat "$IT_DIR/verify-$name.out"
}

crash_phase fua fua 0
crash_phase sync sync 1000000 8
# the check can fail: records of phase 1 do not verify under phase 2's tag
check "verification detects wrong content (sanity)" \
  bash -c "! head -50 '$IT_DIR/acked-fua.txt' | '$CLIENT' '$URL' verify '$TAG-sync' >/dev/null 2>&1"
kura_stop
it_finish
