#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# EXTENDED COPY between thin volumes of one pool shares chunks instead of
# copying (docs/storage.md, "Copy offload (EXTENDED COPY)"): two thin LUNs
# and a file LUN on one target; an XCOPY (LID1, block -> block segments)
# from thin LUN 0 to thin LUN 1 answers GOOD, the destination reads the
# source's data, and the pool's used chunks do not grow by the copied size;
# an unaligned range is shared in the middle and copied at its ends; thin ->
# file still copies. kill -9 right after an XCOPY: after the restart the
# destination holds the data and kura-thin-check finds the pool clean.
# Also times 256 MiB shared vs copied (XCOPY, and qemu-img convert with and
# without -C copy offloading), logged as "timing: ...".
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/thin_lib.sh"
it_init thin_xcopy
need_cmd qemu-io
need_cmd python3
CLIENT=$(need_client xcopy)
CTL=$KURA_BUILD/tools/kura-targetctl
CHECK=$KURA_BUILD/tools/kura-thin-check
[ -x "$CTL" ] && [ -x "$CHECK" ] || skip "kura-targetctl / kura-thin-check not built"

P=$(free_port)
IQN=iqn.2026-11.org.kura:thinxcopy
D=$IT_DIR/data
thin_conf "$IQN" 1G 320M
cat >>"$IT_DIR/kura.conf" <<CONF
[lun 1]
backend = thin
pool = p
volume = 2
size = 320M
[lun 2]
backend = file
path = f.img
size = 320M
create = yes
CONF
U0=iscsi://127.0.0.1:$P/$IQN/0
U1=iscsi://127.0.0.1:$P/$IQN/1
U2=iscsi://127.0.0.1:$P/$IQN/2
SOCK=$D/kura-targetd.sock
MiB=1048576
blocks() { echo $(( $1 / 512 )); }   # bytes -> 512-byte blocks
used() { "$CTL" -s "$SOCK" pool status p --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["chunks"]["used"])'; }
# xcopy SRC_URL DST_URL SRC_BYTE DST_BYTE BYTES: one EXTENDED COPY, output in $XOUT
xcopy() {
  XOUT=$("$CLIENT" "$1" "$2" "$(blocks "$3")" "$(blocks "$4")" "$(blocks "$5")" 2>&1); local rc=$?
  echo "$XOUT" >>"$IT_DIR/xcopy.log"
  return $rc
}
secs() { awk '/^seconds/ {print $2}' <<<"$XOUT"; }

kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "source: write 256 MiB of 0x5a" qio "$U0" "write -P 0x5a 0 256M"
check "destination: write 8 MiB of 0x77 at 64 MiB" qio "$U1" "write -P 0x77 64M 8M"
u1=$(used)

check "XCOPY thin -> thin, 64 MiB: GOOD, every byte reported" xcopy "$U0" "$U1" 0 0 $((64 * MiB))
log "$XOUT"
check "destination reads the source's data" qio "$U1" "read -P 0x5a 0 64M"
u2=$(used)
log "pool chunks used: $u1 before, $u2 after the 64 MiB copy (1024 chunks if copied)"
check "the pool did not grow by the copied size ($u1 -> $u2)" test $((u2 - u1)) -lt 64

# head 60 KiB and tail 12 KiB copied, 15 chunks shared in between
check "XCOPY thin -> thin, unaligned 1 MiB + 8 KiB" \
  xcopy "$U0" "$U1" 4096 $((64 * MiB + 4096)) $((MiB + 8192))
check "unaligned: copied exactly, the bytes around untouched" qio "$U1" \
  "read -P 0x77 64M 4k" "read -P 0x5a 65540k 1032k" "read -P 0x77 66572k 7156k"

u2=$(used)
check "XCOPY thin -> file LUN, 64 MiB (copied)" xcopy "$U0" "$U2" 0 0 $((64 * MiB))
check "file LUN reads the source's data" qio "$U2" "read -P 0x5a 0 64M"
check "the pool did not change for a copy to a file LUN" test "$(used)" = "$u2"

# timing, 256 MiB: shared vs copied
check "XCOPY thin -> thin, 256 MiB (shared)" xcopy "$U0" "$U1" 0 0 $((256 * MiB))
t_share=$(secs)
check "XCOPY thin -> file, 256 MiB (copied)" xcopy "$U0" "$U2" 0 0 $((256 * MiB))
t_copy=$(secs)
check "after 256 MiB: the destination reads the source's data" qio "$U1" "read -P 0x5a 0 256M"
check "after 256 MiB: the file LUN reads the source's data" qio "$U2" "read -P 0x5a 0 256M"
log "timing: XCOPY 256 MiB thin->thin (shared) ${t_share} s, thin->file (copied) ${t_copy} s"
# qemu-img convert: -C offloads the copy to EXTENDED COPY (qemu 7.2's
# iscsi driver); the thin destination is discarded first so that a copy
# would have to allocate
if command -v qemu-img >/dev/null; then
  for dst in "$U1" "$U2"; do
    for mode in -C ""; do
      [ "$dst" = "$U1" ] && { qio "$U1" "discard 0 320M" || log "discard failed"; }
      ub=$(used); t0=$(date +%s.%N)
      out=$(timeout 300 qemu-img convert $mode -n -f raw -O raw "$U0" "$dst" 2>&1); rc=$?
      t1=$(date +%s.%N); ua=$(used)
      echo "$out" >>"$IT_DIR/qemu-img.log"
      log "timing: qemu-img convert ${mode:-(no -C)} 320 MiB (256 MiB data) thin -> LUN ${dst##*/}: rc $rc, $(awk "BEGIN {printf \"%.3f\", $t1 - $t0}") s, pool chunks used $ub -> $ua ${out:+($out)}"
      check "qemu-img convert ${mode:-(no -C)} -> LUN ${dst##*/}" test "$rc" = 0
      [ "$dst" = "$U1" ] && [ "$mode" = -C ] && check "qemu-img convert -C between thin LUNs shares chunks ($ub -> $ua)" test $((ua - ub)) -lt 64
    done
  done
  check "after qemu-img convert: destination reads the source's data" qio "$U1" "read -P 0x5a 0 256M"
  check "after qemu-img convert: the file LUN reads the source's data" qio "$U2" "read -P 0x5a 0 256M"
fi
check "stop" kura_stop
check "kura-thin-check: clean after the copies" "$CHECK" "$D/p.meta" "$D/p.data"

# crash right after the XCOPY completed
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "source: write 64 MiB of 0x66" qio "$U0" "write -P 0x66 0 64M"
check "XCOPY thin -> thin, 64 MiB" xcopy "$U0" "$U1" 0 $((128 * MiB)) $((64 * MiB))
kura_kill9
check "kura-thin-check after kill -9: clean" "$CHECK" "$D/p.meta" "$D/p.data"
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "after the restart the destination holds the copy" qio "$U1" "read -P 0x66 128M 64M" "read -P 0x5a 0 64M"
check "and the source its data" qio "$U0" "read -P 0x66 0 64M" "read -P 0x5a 64M 192M"
check "write 4 KiB into the copy" qio "$U1" "write -P 0x99 128M 4k"
check "the copy diverged by copy-on-write" qio "$U1" "read -P 0x99 128M 4k" "read -P 0x66 131076k 65532k"
check "the source kept its data" qio "$U0" "read -P 0x66 0 64M"
check "stop" kura_stop
check "kura-thin-check: clean at the end" "$CHECK" "$D/p.meta" "$D/p.data"
it_finish
