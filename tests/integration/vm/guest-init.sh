#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# /init of the kura test guest (see build-guest.sh). Loads the virtio modules,
# then loops over /dev/vda: iteration N writes a 64 KiB block whose every
# 64-byte line names N and the block (O_DIRECT, then fsync = FLUSH), reads it
# back (O_DIRECT) and compares, and re-reads the block written 5 iterations
# earlier. One line per iteration on the serial console:
#   KURA-VM iter N ok
#   KURA-VM iter N FAIL <step>: <error>      (then the guest powers off)
# Kernel command line: kura.blocks=B (blocks of 64 KiB cycled over, default
# 1024 = the first 64 MiB), kura.iters=N (stop after N iterations, 0 = never).
#
# kura.mode=cluster selects the "cluster writer" of tests/cluster/ instead:
# the guest takes a tag (kura.tag=T, else the first 8 characters of this
# boot's random boot_id, so a VM restarted elsewhere writes with a new tag)
# and loops: sequence number N goes to 4 KiB block (OFF + N) % B of /dev/vda
# (OFF from the tag, so two boots write apart), every 64-byte line of it
# reading "KURA-CW tag T seq N blk K", written O_DIRECT + fsync, read back
# O_DIRECT and compared. Console, one line per write:
#   KURA-CW tag T seq N blk K ok          (durable and verified)
#   KURA-CW tag T seq N blk K FAIL <step>  (e.g. RESERVATION CONFLICT: the
#                                           guest keeps trying, never powers off)
# Default B = 1024 (4 MiB); kura.pause=MS between writes (default 100);
# kura.base=OFF fixes OFF (two boots then write the same blocks).
/bin/busybox mkdir -p /proc /sys /dev /tmp /bin
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
export PATH=/bin
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp

off() {
  sync
  poweroff -f
  echo o >/proc/sysrq-trigger
  sleep 5
  exit 1                     # kernel panics; panic=-1 + -no-reboot end QEMU
}

# cluster_writer: the kura.mode=cluster loop (see the header); never returns.
cluster_writer() {
  grep -q kura.blocks= /proc/cmdline || BLOCKS=1024
  [ -n "$TAG" ] || TAG=$(cut -c1-8 /proc/sys/kernel/random/boot_id)
  base=$(( 0x$(echo "$TAG" | md5sum | cut -c1-6) % BLOCKS ))
  [ -n "$BASE" ] && base=$BASE
  echo "KURA-CW ready tag $TAG blocks $BLOCKS off $base"
  n=1
  while [ "$ITERS" = 0 ] || [ $n -le "$ITERS" ]; do
    b=$(( (base + n) % BLOCKS ))
    printf 'KURA-CW tag %-8s seq %010d blk %06d %16s\n' "$TAG" $n $b x >/tmp/w
    for k in 1 2 3 4 5 6; do cat /tmp/w /tmp/w >/tmp/w.x && mv /tmp/w.x /tmp/w; done
    st=ok
    dd if=/tmp/w of=/dev/vda bs=4096 seek=$b count=1 oflag=direct conv=fsync,notrunc \
      2>/tmp/e || st="FAIL write"
    [ "$st" = ok ] && { dd if=/dev/vda of=/tmp/r bs=4096 skip=$b count=1 iflag=direct \
      2>/tmp/e || st="FAIL read"; }
    [ "$st" = ok ] && { cmp /tmp/w /tmp/r >/tmp/e 2>&1 || st="FAIL verify"; }
    if [ "$st" = ok ]; then echo "KURA-CW tag $TAG seq $n blk $b ok"
    else echo "KURA-CW tag $TAG seq $n blk $b $st: $(head -1 /tmp/e)"; fi
    n=$((n + 1))
    usleep $((PAUSE * 1000))
  done
  echo "KURA-CW done"
  off
}

for m in $(cat /lib/modules/load.list); do
  insmod "/lib/modules/$m" || echo "KURA-VM insmod $m failed"
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/vda ] || { echo "KURA-VM FAIL no /dev/vda"; off; }

BLOCKS=1024; ITERS=0
for a in $(cat /proc/cmdline); do
  case $a in
    kura.blocks=*) BLOCKS=${a#kura.blocks=} ;;
    kura.iters=*) ITERS=${a#kura.iters=} ;;
  esac
done
MODE=disk; TAG=""; PAUSE=100; BASE=""
for a in $(cat /proc/cmdline); do
  case $a in
    kura.mode=*) MODE=${a#kura.mode=} ;;
    kura.tag=*) TAG=${a#kura.tag=} ;;
    kura.pause=*) PAUSE=${a#kura.pause=} ;;
    kura.base=*) BASE=${a#kura.base=} ;;
  esac
done
[ "$MODE" = cluster ] && cluster_writer
echo "KURA-VM ready disk=$(cat /sys/block/vda/size) sectors blocks=$BLOCKS"

pattern() {  # pattern ITER FILE: 64 KiB whose 64-byte lines name ITER and its block
  printf 'KURA-VM iter %010d block %06d %26s\n' "$1" $(($1 % BLOCKS)) x >"$2"
  for k in 1 2 3 4 5 6 7 8 9 10; do
    cat "$2" "$2" >"$2.x" && mv "$2.x" "$2"
  done
}
fail() { echo "KURA-VM iter $n FAIL $1: $(echo "$2" | tr '\n' ' ')"; off; }

n=1
while [ "$ITERS" = 0 ] || [ $n -le "$ITERS" ]; do
  b=$((n % BLOCKS))
  pattern $n /tmp/w
  out=$(dd if=/tmp/w of=/dev/vda bs=65536 seek=$b count=1 oflag=direct conv=fsync,notrunc 2>&1) || fail write "$out"
  out=$(dd if=/dev/vda of=/tmp/r bs=65536 skip=$b count=1 iflag=direct 2>&1) || fail read "$out"
  out=$(cmp /tmp/w /tmp/r 2>&1) || fail verify "block $b: $out"
  if [ $n -gt 5 ]; then
    o=$((n - 5))
    pattern $o /tmp/w
    out=$(dd if=/dev/vda of=/tmp/r bs=65536 skip=$((o % BLOCKS)) count=1 iflag=direct 2>&1) || fail reread "$out"
    out=$(cmp /tmp/w /tmp/r 2>&1) || fail reverify "block $((o % BLOCKS)) of iter $o: $out"
  fi
  echo "KURA-VM iter $n ok"
  n=$((n + 1))
done
echo "KURA-VM done"
off
