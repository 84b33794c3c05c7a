#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A thin volume on RAID-6 over 6 member files, through iSCSI (docs/storage.md):
# a pattern written with qemu-io survives one and then two deleted members
# (the array assembles degraded); with three gone the LUN answers NOT READY
# and the log says why; spares declared in the config rebuild both missing
# roles at start (watched through <data_dir>/storage.status); a scrub finds 0
# mismatches; a data chunk corrupted in a member file is found and repaired
# by a repair scrub, and the pattern reads back again.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/thin_lib.sh"
it_init thin_raid6
need_cmd qemu-io
CLIENT=$(need_client thin)

P=$(free_port)
IQN=iqn.2026-11.org.kura:thinraid6
D=$IT_DIR/data
conf() { raid6_thin_conf "$IQN" "$@"; }   # conf [SPARES]
U=iscsi://127.0.0.1:$P/$IQN/0
st() { grep "^raid r6 " "$D/storage.status" 2>/dev/null; }
field() { st | tr ' ' '\n' | sed -n "s/^$1=//p"; }
# scrub WORD: drop a scrub request and wait until the daemon has taken it
scrub() {
  local i
  echo "$1" >"$D/raid-r6.scrub"
  for i in $(seq 1 100); do [ -e "$D/raid-r6.scrub" ] || { sleep 0.3; return 0; }; sleep 0.1; done
  return 1
}
# wait_status EXPR SECONDS: until the raid line of storage.status matches EXPR (grep -E)
wait_status() {
  local i
  for i in $(seq 1 $(( $2 * 10 ))); do st | grep -qE "$1" && return 0; sleep 0.1; done
  log "status now: $(st)"; return 1
}
verify() { qio "$U" "read -P 0x5a 0 8M" "read -P 0x3c 32M 4M" "read -P 0 16M 1M"; }

conf
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "array created clean over 6 new files" grep -q "raid r6: created raid6 over 6 members" "$IT_DIR/kura.log"
check "write the pattern with qemu-io" qio "$U" "write -P 0x5a 0 8M" "write -P 0x3c 32M 4M"
check "pattern verifies" verify
check "status file shows a clean array" wait_status "state=clean .*active=6" 10
check "stop" kura_stop

rm -f "$D/m2.img"
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "one member deleted: array assembles degraded" wait_status "state=degraded .*active=5 failed=1" 10
check "one member deleted: pattern verifies" verify
check "stop" kura_stop

rm -f "$D/m4.img"
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "two members deleted: still degraded, active=4" wait_status "state=degraded .*active=4 failed=2" 10
check "two members deleted: pattern verifies" verify
check "stop" kura_stop

mv "$D/m0.img" "$D/m0.away"
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "three members missing: the log says the array cannot assemble" \
  grep -q "raid r6: cannot assemble: raid6: 3 of 6 members missing" "$IT_DIR/kura.log"
check "three members missing: status file says failed" wait_status "state=failed" 10
out=$("$CLIENT" "$U" read 0 1 0x5a 2>&1)
check "three members missing: reads answer NOT READY 04/03, never data ($out)" grep -q "SENSE 2/04/03" <<<"$out"
check "three members missing: qemu-io read fails" bash -c "! qio '$U' 'read 0 4k' >/dev/null"
check "stop" kura_stop
mv "$D/m0.away" "$D/m0.img"

# spares in the config: both missing roles are rebuilt, one after the other
conf "s0.img, s1.img"
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "spares added" grep -q "raid r6: spare .*s1.img added" "$IT_DIR/kura.log"
check "pattern verifies while rebuilding" verify
check "rebuild of both roles finishes: clean, 6 active" wait_status "state=clean .*active=6 failed=0 .*rebuilding=0" 120
check "rebuild throughput logged" grep -q "rebuild of role .* done: .* MiB/s" "$IT_DIR/kura.log"
log "$(grep 'rebuild of role' "$IT_DIR/kura.log" | tail -2)"
check "pattern verifies after the rebuild" verify
check "scrub (check) request taken" scrub check
check "scrub (check) runs to the end" wait_status "scrubbing=0 scrub_pct=100 scrub_units=[1-9]" 60
check "scrub finds 0 mismatches" test "$(field scrub_mismatches)" = 0
check "stop" kura_stop

# RAID-6 left-symmetric, 6 members: row 0 holds P on role 5, Q on role 0 and
# data chunk 0 on role 1 (m1.img), at the data offset (1 MiB).
dd if=/dev/urandom of="$D/m1.img" bs=4096 seek=$(( (1 << 20) / 4096 + 1 )) count=2 conv=notrunc status=none
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "scrub (repair) request taken" scrub repair
check "repair scrub runs to the end" wait_status "scrubbing=0 scrub_pct=100 scrub_units=[1-9]" 60
check "repair scrub found the corrupted chunk (mismatches $(field scrub_mismatches))" test "$(field scrub_mismatches)" -ge 1
check "and repaired it (repaired $(field scrub_repaired))" test "$(field scrub_repaired)" -ge 1
check "pattern verifies after the repair" verify
check "second scrub request taken" scrub check
check "a second scrub runs to the end" wait_status "scrubbing=0 scrub_pct=100 scrub_units=[1-9]" 60
check "a second scrub finds 0 mismatches" test "$(field scrub_mismatches)" = 0
check "stop" kura_stop
it_finish
