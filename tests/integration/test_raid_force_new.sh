#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A RAID array is never formatted over member files that hold data (issue 11,
# item 6): three member files without superblocks, one of them holding data,
# and create = yes: kura-targetd refuses the array (its LUN answers NOT READY,
# the log names the member), and the files are untouched; force_new = yes
# creates it and the LUN serves I/O; the array then assembles on its own.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
it_init raid_force_new
need_cmd qemu-io
P=$(free_port)
IQN=iqn.2026-12.org.kura:raidnew
D=$IT_DIR/data
for i in 0 1 2; do truncate -s 16M "$D/m$i.img"; done
printf 'an old file system' | dd of="$D/m1.img" bs=1 seek=$((3 << 20)) conv=notrunc status=none
cat >"$IT_DIR/kura.conf" <<CONF
[global]
log_level = info
[raid r]
level = 5
members = m0.img, m1.img, m2.img
create = yes
[target $IQN]
[lun 0]
backend = raid
raid = r
CONF
U=iscsi://127.0.0.1:$P/$IQN/0
sum0=$(cat "$D"/m*.img | md5sum)
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "a member holding data: the array is refused, naming it" \
  grep -q "member .*m1.img holds data (a non-zero byte at offset 3145728)" "$IT_DIR/kura.log"
check "its LUN serves no data" bash -c "! qemu-io -f raw -c 'read 0 4k' '$U' 2>/dev/null | grep -q 'read 4096'"
kura_stop
check "the member files are untouched" test "$(cat "$D"/m*.img | md5sum)" = "$sum0"
sed -i 's/^create = yes$/create = yes\nforce_new = yes/' "$IT_DIR/kura.conf"
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "force_new = yes: the array is created" grep -q "raid r: created raid5" "$IT_DIR/kura.log"
check "force_new = yes: the LUN serves I/O" qio "$U" "write -P 9 0 64k" "read -P 9 0 64k"
kura_stop
sed -i '/^force_new = yes$/d' "$IT_DIR/kura.conf"
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
check "without force_new the array now assembles (data kept)" qio "$U" "read -P 9 0 64k"
check "clean stop" kura_stop
it_finish
