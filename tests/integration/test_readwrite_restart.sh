#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Data written through iSCSI survives a clean restart (SIGTERM) and a crash
# restart (kill -9): qemu-io writes distinct patterns at several offsets and
# sizes (4K, 1 MiB, unaligned to 128K, near the end of the LUN), reads them back
# with pattern verification, and again after each restart.
source "$(dirname "$0")/lib.sh"
it_init readwrite
need_cmd qemu-io

P=$(free_port)
kura_start --listen 127.0.0.1:$P
URL=$(kura_url 127.0.0.1:$P 0)

# offset length pattern  (all multiples of 512; qemu-io sizes accept K/M)
REGIONS=(
  "0 4k 0x11"
  "4k 4k 0x12"
  "1M 1M 0x21"
  "2M 1M 0x22"
  "$((3 * 131072 + 4096)) $((200 * 1024)) 0x31"
  "$((5 * 131072 + 512)) 512 0x32"
  "$((64 * 1048576 - 65536 + 1536)) $((130 * 1024 + 512)) 0x41"
  "$((1024 * 1048576)) 1M 0x51"
  "$((8 * 1024 * 1048576 - 1048576)) 1M 0x61"
)
writes=() reads=()
for r in "${REGIONS[@]}"; do
  set -- $r
  writes+=("write -P $3 $1 $2")
  reads+=("read -P $3 $1 $2")
done
# a hole stays zero
reads+=("read -P 0 $((512 * 1048576)) 64k")

check "write ${#REGIONS[@]} regions" qio "$URL" "${writes[@]}"
check "read back before restart" qio "$URL" "${reads[@]}"

check "SIGTERM restart: daemon exits 0" kura_stop 10
kura_restart
check "read back after SIGTERM restart" qio "$URL" "${reads[@]}"

# overwrite part of one region so the crash restart checks fresh data too
check "overwrite 1M region with new pattern" qio "$URL" "write -P 0x23 2M 1M"
reads=("${reads[@]/read -P 0x22 2M 1M/read -P 0x23 2M 1M}")
kura_kill9
kura_restart
check "read back after kill -9 restart" qio "$URL" "${reads[@]}"
mismatch_detected() { ! qio "$URL" "read -P 0x99 0 4k" >/dev/null; }
check "a mismatching pattern is detected (sanity of the check)" mismatch_detected
kura_stop
it_finish
