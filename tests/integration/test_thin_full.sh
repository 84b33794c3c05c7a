#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A thin pool smaller than its volume, through iSCSI (docs/storage.md):
# READ CAPACITY(16) / VPD B2 advertise provisioning; filling the pool crosses
# the low-water mark (UNIT ATTENTION 38/07, once for the session) and then a
# write needing a new chunk gets DATA PROTECT 27/07 SPACE ALLOCATION FAILED
# WRITE PROTECT, while reads and overwrites of allocated chunks keep working;
# UNMAP gives space back, and a larger pool `size` at restart grows the pool.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
it_init thin_full
CLIENT=$(need_client thin)

P=$(free_port)
IQN=iqn.2026-11.org.kura:thinfull
conf() {   # conf POOL_SIZE
  cat >"$IT_DIR/kura.conf" <<CONF
[global]
log_level = info
[pool small]
data = small.data
size = $1
meta = small.meta
low_water = 25%
[target $IQN]
[lun 0]
backend = thin
pool = small
volume = 7
size = 64M
CONF
}
conf 8M
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
U=iscsi://127.0.0.1:$P/$IQN/0
run() { "$CLIENT" "$U" "$@" 2>&1 | tee -a "$IT_DIR/client.log"; }

out=$(run caps)
check "thin LUN: LBPME=1 LBPRZ=1 (READ CAPACITY 16), LBPU=1 LBPWS=1 (VPD B2): $out" \
  grep -q "lbpme=1 lbprz=1 lbpu=1 lbpws=1" <<<"$out"

# 8 MiB pool = 128 chunks of 64 KiB; 64 KiB writes each take one chunk.
out=$(run fill 16)
check "pool full after 128 chunks: $(grep filled <<<"$out")" grep -q "filled_recs=2048" <<<"$out"
check "the next write is DATA PROTECT 27/07" grep -q "SENSE 7/27/07" <<<"$out"
check "UNIT ATTENTION 38/07 seen exactly once in the session" grep -q "ua_3807=1" <<<"$out"
check "low-water crossing logged" grep -q "low-water mark crossed: 38/07 raised" "$IT_DIR/kura.log"

check "full pool: reads of allocated chunks still work" bash -c "'$CLIENT' '$U' read 0 16 0xA5 | grep -q GOOD"
check "full pool: read of an unallocated chunk returns zeros" bash -c "'$CLIENT' '$U' read 4096 16 0 | grep -q GOOD"
check "full pool: overwrite of an allocated chunk works" bash -c "'$CLIENT' '$U' write 16 16 0x3C | grep -q GOOD"
check "full pool: overwritten data reads back" bash -c "'$CLIENT' '$U' read 16 16 0x3C | grep -q GOOD"
out=$(run write 4096 1 0x11)
check "full pool: a write into a new chunk still gets 27/07 ($out)" grep -q "SENSE 7/27/07" <<<"$out"
check "a new session does not get 38/07 again" grep -q "ua_3807=0" <<<"$out"

# UNMAP 8 chunks, then new chunks can be written again.
check "UNMAP of 8 chunks" bash -c "'$CLIENT' '$U' unmap 32 128 | grep -q GOOD"
check "unmapped range reads as zeros" bash -c "'$CLIENT' '$U' read 32 128 0 | grep -q GOOD"
ok=0
for i in 1 2 3 4 5 6 7 8 9 10; do
  "$CLIENT" "$U" write 4096 16 0x22 | grep -q GOOD && { ok=1; break; }
  sleep 0.3
done
check "after UNMAP a write into a new chunk succeeds" test $ok = 1
check "and reads back" bash -c "'$CLIENT' '$U' read 4096 16 0x22 | grep -q GOOD"
check "qemu-io reads the first chunk's pattern" qio "$U" "read -P 0xa5 0 64k"

# Grow at start: a larger size for the file data store.
check "daemon stops cleanly" kura_stop
check "kura-thin-check: pool consistent after the run" \
  "$KURA_BUILD/tools/kura-thin-check" "$IT_DIR/data/small.meta" "$IT_DIR/data/small.data"
conf 16M
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "pool grown at start" grep -q "pool small: grown from 128 to 256 chunks: ok" "$IT_DIR/kura.log"
check "old data survived the restart and growth" bash -c "'$CLIENT' '$U' read 16 16 0x3C | grep -q GOOD"
out=$(run fill 16)
check "after growing, the fill went on to the new end before 27/07: $(grep filled <<<"$out")" \
  grep -q "SENSE 7/27/07" <<<"$out"
check "daemon stops cleanly" kura_stop
it_finish
