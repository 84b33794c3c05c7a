#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Thin metadata redundancy through the daemon (issue 11, items 1 and 6).
# A libiscsi client runs a write / UNMAP storm on a thin LUN (each operation
# logged once acknowledged) and kura-targetd is killed with SIGKILL. Then,
# one case at a time from that same pool.meta, one bit is flipped in each
# position class — superblock, newest checkpoint slot header, the checkpoint
# body's header (pool size: the free-space geometry), its map runs, copy A
# of the first and of a middle live journal block — the daemon restarts and
# every acknowledged operation must read back (0 lost). Then both copies of
# a middle journal block: the pool must refuse to open naming the block
# (NOT READY, log, kura-thin-check exit 2), and kura-thin-check --repair
# must open it saying what it dropped (exit 1). Last, item 6: with pool.meta
# removed next to the written pool.data the daemon refuses to format (the
# data is untouched), `kura-targetctl pool create --force-new` is the only
# way for a new pool over data, and force_new = yes for a configured one.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/thin_lib.sh"
it_init thin_meta_flip
CLIENT=$(need_client thin)
need_cmd python3
CHECK=$KURA_BUILD/tools/kura-thin-check
CTL=$KURA_BUILD/tools/kura-targetctl
SPAN=4096
P=$(free_port)
IQN=iqn.2026-12.org.kura:metaflip
thin_conf "$IQN" 32M 64M
U=iscsi://127.0.0.1:$P/$IQN/0
LOG=$IT_DIR/storm.log
D=$IT_DIR/data

kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
"$CLIENT" "$U" storm "$LOG" $SPAN >>"$IT_DIR/storm.out" 2>&1 &
SP=$!
IT_PIDS+=("$SP")
for i in $(seq 1 100); do # until 40 operations are acknowledged (at most 20 s)
  [ "$(grep -c '^A' "$LOG")" -ge 40 ] && break
  sleep 0.2
done
kura_kill9
wait "$SP" 2>/dev/null
NACK=$(grep -c '^A' "$LOG")
check "the storm acknowledged work ($NACK operations)" test "$NACK" -ge 40
cp "$D/p.meta" "$IT_DIR/pristine.meta"

# The byte to flip per class (journal2: both copies of a middle block), and
# the number of live journal blocks, from the pristine file in one pass.
declare -A OFF
while read -r k v; do OFF[$k]=$v; done < <(python3 - "$IT_DIR/pristine.meta" <<'PY'
import struct, sys
m = open(sys.argv[1], 'rb').read()
le32 = lambda o: struct.unpack_from('<I', m, o)[0]
le64 = lambda o: struct.unpack_from('<Q', m, o)[0]
slot = max((4096, 8192), key=lambda o: le64(o + 8))
body = le64(slot + 16)
jsize, J = le64(24), 1 << 20
seq, pos, blocks = le64(body + 16), le64(body + 24), []
while le32(J + pos) == 0x424a544b and le64(J + pos + 8) == seq:
    n = le32(J + pos + 20)
    blocks.append((J + pos, J + pos + n))
    pos, seq = (pos + 2 * n) % jsize, seq + 1
mid = blocks[len(blocks) // 2]
print('superblock', 26)
print('slot', slot + 17)
print('freespace', body + 33)
print('map', body + 48 + 24 + 5)
print('journal0', blocks[0][0] + 40)
print('journal_mid', mid[0] + 9)
print('journal2', '%d,%d' % (mid[0] + 40, mid[1] + 40))
print('nblocks', len(blocks))
PY
)
flip() { # FILE OFFSET[,OFFSET]: xor 0x10 into each byte
  local f=$1 o b
  for o in ${2//,/ }; do
    b=$(od -An -tu1 -j "$o" -N1 "$f" | tr -d ' ')
    printf "$(printf '\\%03o' $((b ^ 16)))" | dd of="$f" bs=1 seek="$o" conv=notrunc status=none
  done
}
verify() {
  local out
  out=$("$CLIENT" "$U" verify "$LOG" $SPAN 2>&1)
  echo "$out" >>"$IT_DIR/verify.out"
  grep -q " bad=0 " <<<"$out"
}
NB=${OFF[nblocks]}
log "$NB live journal blocks after the newest checkpoint"
check "the kill left a live journal (>= 3 blocks)" test "$NB" -ge 3

for cls in superblock slot freespace map journal0 journal_mid; do
  cp "$IT_DIR/pristine.meta" "$D/p.meta"
  flip "$D/p.meta" "${OFF[$cls]}"
  kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
  check "$cls: one flipped bit, every acknowledged operation reads back" verify
  kura_kill9
done

# kura-thin-check on a repairable flip: exit 1 (damage found, repaired from
# the copy while opening), then 0 (the open rewrote it)
cp "$IT_DIR/pristine.meta" "$D/p.meta"
flip "$D/p.meta" "${OFF[journal0]}"
out=$("$CHECK" "$D/p.meta" "$D/p.data" 2>&1); rc=$?
echo "$out" >>"$IT_DIR/thin-check.log"
check "kura-thin-check: one damaged journal copy is reported (exit 1)" \
  bash -c "test $rc = 1 && grep -q 'repaired from their copies' <<<'$out'"
check "kura-thin-check: clean once the open rewrote it (exit 0)" "$CHECK" "$D/p.meta" "$D/p.data"

# both copies of a middle block: refused, never silently shortened
cp "$IT_DIR/pristine.meta" "$D/p.meta"
flip "$D/p.meta" "${OFF[journal2]}"
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "both copies damaged: the pool refuses, naming the block" \
  grep -q "damaged in every copy, and .* later acknowledged block" "$IT_DIR/kura.log"
check "both copies damaged: the LUN answers NOT READY, no data" bash -c "! qemu-io -f raw -c 'read 0 4k' '$U' 2>/dev/null | grep -q 'read 4096'"
kura_stop
"$CHECK" "$D/p.meta" "$D/p.data" >>"$IT_DIR/thin-check.log" 2>&1; rc=$?
check "kura-thin-check on the unrepairable pool exits 2" test $rc = 2
out=$("$CHECK" --repair "$D/p.meta" "$D/p.data" 2>&1); rc=$?
echo "$out" >>"$IT_DIR/thin-check.log"
check "kura-thin-check --repair salvages and reports the loss (exit 1)" \
  bash -c "test $rc = 1 && grep -q 'LOST' <<<'$out'"
check "after --repair the pool is consistent (exit 0)" "$CHECK" "$D/p.meta" "$D/p.data"

# item 6: metadata gone, data left
rm -f "$D/p.meta"
sum0=$(md5sum <"$D/p.data")
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "missing pool.meta next to data: refused with a clear error" \
  grep -q "does not exist but the data device holds data" "$IT_DIR/kura.log"
check "nothing was formatted (no pool.meta)" test ! -e "$D/p.meta"
SOCK=$D/kura-targetd.sock
head -c 8M "$D/p.data" >"$D/q.data"
check "pool create over data is refused" bash -c "! '$CTL' -s '$SOCK' pool create q --path q.data --size 8M"
check "pool create --force-new formats over it" "$CTL" -s "$SOCK" pool create q --path q.data --size 8M --force-new
check "--force-new is not saved in the configuration" bash -c "! grep -q force_new '$IT_DIR/kura.conf'"
kura_stop
check "the refused pool's data is untouched" test "$(md5sum <"$D/p.data")" = "$sum0"
sed -i 's/^meta = p.meta$/meta = p.meta\nforce_new = yes/' "$IT_DIR/kura.conf"
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "force_new = yes: the pool is formatted" test -s "$D/p.meta"
check "force_new = yes: the new volume serves I/O" qio "$U" "write -P 7 0 4k" "read -P 7 0 4k"
kura_stop
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "force_new left set: a warning at start" grep -q "force_new = yes is set: remove it" "$IT_DIR/kura.log"
check "force_new with a valid pool.meta opens it (data kept)" qio "$U" "read -P 7 0 4k"
check "clean stop" kura_stop
it_finish
