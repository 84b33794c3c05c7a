#!/bin/busybox sh
# /init of the kura test guest (see build-guest.sh). Loads the virtio modules,
# then loops over /dev/vda: iteration N writes a 64 KiB block whose every
# 64-byte line names N and the block (O_DIRECT, then fsync = FLUSH), reads it
# back (O_DIRECT) and compares, and re-reads the block written 5 iterations
# earlier. One line per iteration on the serial console:
#   KURA-VM iter N ok
#   KURA-VM iter N FAIL <step>: <error>      (then the guest powers off)
# Kernel command line: kura.blocks=B (blocks of 64 KiB cycled over, default
# 1024 = the first 64 MiB), kura.iters=N (stop after N iterations, 0 = never).
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
