#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 64 concurrent sessions on one LUN (each its own initiator name), plus two
# sessions with the SAME initiator name and different ISIDs, all logged in at
# once and writing/verifying their own regions concurrently (client_many.c).
# Afterwards qemu-io checks one region from the outside, so the data really
# reached the LUN.
source "$(dirname "$0")/lib.sh"
it_init sessions64
CLIENT=$(need_client many)
need_cmd qemu-io

P=$(free_port)
kura_start --listen 127.0.0.1:$P
URL=$(kura_url 127.0.0.1:$P 0)

"$CLIENT" "$URL" 64 4 >"$IT_DIR/many.out" 2>&1; crc=$?
cat "$IT_DIR/many.out"
check "64 + 2 same-name/different-ISID sessions write and verify concurrently (client exit 0)" test $crc -eq 0
check "client reports 66 sessions logged in at once and 66 completed" \
  grep -q "66 logged in at once, 66 completed" "$IT_DIR/many.out"
# session 5's last round (3) pattern at its region start: byte(off)= id*37+round*101+off/512*7+(off&511)+1
exp=$(( (5 * 37 + 3 * 101 + 0 + 0 + 1) % 256 ))
check "session 5 region holds its final data (seen through qemu-io)" \
  qio "$URL" "read -P $exp $((6 * 262144)) 1"
check "daemon still alive after sessions closed" kill -0 "$KURA_PID"
check "clean shutdown" kura_stop 10
it_finish
